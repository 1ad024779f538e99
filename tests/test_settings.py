"""Configuration comes from the environment: embedded by default, production-clean when set."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args, env):
    # Only the machine's environment: not what the test run itself set (browser tests set
    # DJANGO_ALLOW_ASYNC_UNSAFE, CI sets DATABASE_URL).
    skip = ("DATABASE_URL", "CELERY_", "DJANGO_ALLOW_ASYNC_UNSAFE")
    base = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_settings_pass_the_deploy_check():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            "DEBUG": "0",
            "SECRET_KEY": "x7!" * 20 + "production-secret-key-long-and-random-enough",
            "ALLOWED_HOSTS": "relay.example",
            "EMAIL_HOST": "smtp.relay.example",
            "DATABASE_URL": "postgres://relay@db.example:5432/relay",
            "CELERY_BROKER_URL": "redis://redis.example:6379/0",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_embedded_default_needs_no_services():
    script = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER,"
        " s.MAILERS['default']['BACKEND'])"
    )
    result = run_manage("shell", "-c", script, env={"DEBUG": "1"})
    assert result.stdout.split()[-3:] == [
        "django.db.backends.sqlite3",
        "True",
        "django.core.mail.backends.console.EmailBackend",
    ], result.stderr
