"""The supervision Relay ships (Procfile, deploy/*.service): every process is restarted when it
dies and starts a command that exists in this checkout. systemd-analyze, where installed, parses
the units the way systemd will (with /srv/relay pointed at this checkout)."""

import configparser
import importlib
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
UNITS = ["relay-web.service", "relay-worker@.service", "relay-beat.service"]


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((DEPLOY / name).read_text())
    return parser


def check_command(argv: list[str]) -> None:
    """`gunicorn workflow_site.wsgi …` or `celery -A workflow_site worker|beat …`: the program
    is installed beside this Python and the module it is given imports."""
    program = Path(argv[0]).name
    assert (BIN / program).exists(), f"{program} is not installed in {BIN}"
    if program == "gunicorn":
        module = argv[1].split(":")[0]
    else:
        assert program == "celery"
        module = argv[argv.index("-A") + 1]
        assert argv[argv.index("-A") + 2] in {"worker", "beat"}
    assert importlib.util.find_spec(module) is not None, f"{module} does not exist"


@pytest.mark.parametrize("name", UNITS)
def test_each_unit_restarts_its_process_and_runs_a_command_of_this_checkout(name):
    service = unit(name)["Service"]
    assert service["Restart"] == "always"
    assert 0 < float(service["RestartSec"]) <= 10
    assert service["EnvironmentFile"] == "/etc/relay/relay.env"
    assert service["WorkingDirectory"] == "/srv/relay"
    argv = shlex.split(service["ExecStart"])
    assert argv[0].startswith("/srv/relay/.venv/bin/")
    check_command(argv)
    # systemd gives up restarting after 5 failures in 10 s unless told not to: a broker
    # outage longer than that must not leave the process dead.
    assert unit(name)["Unit"]["StartLimitIntervalSec"] == "0"


def test_beat_keeps_its_schedule_in_its_state_directory_and_the_worker_warm_shuts_down():
    beat = unit("relay-beat.service")["Service"]
    assert beat["StateDirectory"] == "relay"
    assert "--schedule=/var/lib/relay/" in beat["ExecStart"]
    worker = unit("relay-worker@.service")["Service"]
    assert worker["KillSignal"] == "SIGTERM"  # Celery's warm shutdown
    assert int(worker["TimeoutStopSec"]) > 300  # above RELAY_ACTION_TIMEOUT's default


def test_the_target_starts_web_one_worker_and_beat():
    wants = unit("relay.target")["Unit"]["Wants"].split()
    assert wants == ["relay-web.service", "relay-worker@1.service", "relay-beat.service"]


def test_the_procfile_names_web_worker_and_beat_with_commands_that_exist():
    lines = [
        line
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    processes = dict(line.split(":", 1) for line in lines)
    assert set(processes) == {"web", "worker", "beat"}
    for command in processes.values():
        # ${VAR:-default} as a shell expands it when VAR is unset
        argv = shlex.split(re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", command))
        check_command(argv)


def test_the_example_environment_file_sets_what_production_requires():
    keys = {
        line.split("=", 1)[0]
        for line in (DEPLOY / "relay.env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL"} <= keys


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_parses_the_units_without_a_warning(tmp_path):
    for path in [*DEPLOY.glob("*.service"), *DEPLOY.glob("*.target")]:
        text = path.read_text().replace("/srv/relay/.venv/bin", str(BIN))
        text = text.replace("/srv/relay", str(ROOT))
        text = text.replace("/etc/relay/relay.env", str(DEPLOY / "relay.env.example"))
        (tmp_path / path.name).write_text(text)
    (tmp_path / "relay-worker@1.service").write_text(
        (tmp_path / "relay-worker@.service").read_text()
    )
    result = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr  # unknown keys and bad values only warn
