"""`manage.py health`: the same checks for cron and Nagios-style monitors, by exit code."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def health(*args) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("health", *args, stdout=out)
    except SystemExit as exit:
        return exit.code, out.getvalue()
    return 0, out.getvalue()


def test_healthy_exits_0_with_a_line_per_check():
    code, out = health()
    assert code == 0
    lines = out.strip().splitlines()
    assert [line.split()[:2] for line in lines[:-1]] == [
        ["database", "ok"],
        ["broker", "ok"],
        ["worker", "ok"],
        ["outbox", "ok"],
        ["stranded_runs", "ok"],
    ]
    assert lines[-1] == "status: ok"


def test_unhealthy_exits_1_and_says_which_check_and_why(undelivered):
    undelivered(timedelta(hours=1))
    code, out = health()
    assert code == 1
    [outbox] = [line for line in out.splitlines() if line.startswith("outbox")]
    assert "FAIL" in outbox
    assert "The oldest undelivered notification is 3600 s old (limit 900 s)." in outbox
    assert out.strip().endswith("status: fail")


def test_json_is_what_healthz_answers(undelivered, client):
    undelivered(timedelta(hours=1))
    code, out = health("--json")
    assert code == 1
    report = json.loads(out)
    served = client.get("/healthz").json()
    assert report["status"] == served["status"] == "fail"
    assert report["checks"].keys() == served["checks"].keys()
    assert report["checks"]["outbox"]["error"] == served["checks"]["outbox"]["error"]


def test_checks_picks_some(undelivered):
    undelivered(timedelta(hours=1))
    code, out = health("--checks", "database,stranded_runs")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == [
        "database",
        "stranded_runs",
        "status:",
    ]


def test_an_unknown_check_is_an_error_of_its_own():
    with pytest.raises(CommandError, match="Unknown check disk; the checks are database,") as error:
        call_command("health", "--checks", "disk")
    assert error.value.returncode == 2
