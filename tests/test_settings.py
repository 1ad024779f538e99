"""Configuration comes from the environment: embedded by default, production-clean when set."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args, env):
    # Only the machine's environment: not what the test run itself set (browser tests set
    # DJANGO_ALLOW_ASYNC_UNSAFE, CI sets DATABASE_URL).
    skip = ("DATABASE_URL", "CELERY_", "DJANGO_ALLOW_ASYNC_UNSAFE", "REDIS_URL")
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
        "workflow_site.sqlite",  # Django's SQLite backend (workflow_site/sqlite/base.py)
        "True",
        "django.core.mail.backends.console.EmailBackend",
    ], result.stderr


def test_cache_is_per_process_unless_redis_is_named():
    script = "from django.conf import settings as s; c = s.CACHES['default'];" + (
        "print(c['BACKEND'], c.get('LOCATION') or '-')"
    )
    default = run_manage("shell", "-c", script, env={"DEBUG": "1"})
    assert default.stdout.split()[-2:] == [
        "django.core.cache.backends.locmem.LocMemCache",
        "-",
    ], default.stderr
    shared = run_manage("shell", "-c", script, env={"REDIS_URL": "redis://cache.example:6379/3"})
    assert shared.stdout.split()[-2:] == [
        "django.core.cache.backends.redis.RedisCache",
        "redis://cache.example:6379/3",
    ], shared.stderr


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "x7!" * 20 + "production-secret-key-long-and-random-enough",
    "ALLOWED_HOSTS": "relay.example",
}


def test_production_refuses_to_start_without_a_secret_key():
    result = run_manage("check", env=PRODUCTION | {"SECRET_KEY": ""})  # nor the machine's

    assert result.returncode != 0
    assert "ImproperlyConfigured: Set the SECRET_KEY environment variable" in result.stderr
    assert "refuses to start with the development key" in result.stderr


def is_secure_behind_proxy(env):
    script = (
        "from django.test import RequestFactory;"
        "r = RequestFactory().get('/', HTTP_X_FORWARDED_PROTO='https');"
        "print('secure' if r.is_secure() else 'plain')"
    )
    result = run_manage("shell", "-c", script, env=PRODUCTION | env)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()[-1]


def test_x_forwarded_proto_is_trusted_only_when_configured():
    # Without a proxy of ours in front, anyone could send the header and pass for HTTPS.
    assert is_secure_behind_proxy({}) == "plain"
    assert is_secure_behind_proxy({"RELAY_TRUST_X_FORWARDED_PROTO": "0"}) == "plain"
    assert is_secure_behind_proxy({"RELAY_TRUST_X_FORWARDED_PROTO": "1"}) == "secure"
