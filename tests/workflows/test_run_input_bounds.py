"""Starting a run: inputs that no JSON column stores, or that would crash the parser, are
refused with a sentence on the form, and no run starts."""

import pytest
from django.urls import reverse

from apps.workflows import services
from apps.workflows.models import Run, RunStatus

NESTED = "[" * 10_000 + "]" * 10_000


def _start(client, template, team, inputs, title="churn-v9"):
    return client.post(
        reverse("workflows:run_start", args=[team.slug]),
        {"template": template.pk, "title": title, "inputs": inputs},
    )


@pytest.mark.parametrize(
    ("inputs", "sentence"),
    [
        ('{"metrics": ' + NESTED + "}", "The inputs text is nested more than 20 levels deep."),
        ('{"auc": NaN}', "holds NaN, which is not a number JSON allows"),
        ('{"auc": Infinity}', "holds Infinity, which is not a number JSON allows"),
        ('{"auc": -Infinity}', "holds -Infinity, which is not a number JSON allows"),
        ('{"auc": 1e999}', "too large a number"),
        ('{"model": "churn\\u0000"}', "NUL character"),
        ('{"model": "\\ud800"}', "broken character"),
        ('{"model": "' + "x" * 70_000 + '"}', "The inputs text is larger than 64 KB."),
        ("[1, 2]", "The inputs text must be a JSON object"),
    ],
    ids=["nested", "nan", "infinity", "-infinity", "1e999", "nul", "surrogate", "64kb", "list"],
)
def test_inputs_no_database_stores_start_no_run_and_say_why(
    client_for, lead, ml_template, team, inputs, sentence
):
    response = _start(client_for(lead), ml_template, team, inputs)
    assert response.status_code == 422  # the form again, with its error
    assert sentence in response.content.decode()
    assert not Run.objects.exists()


def test_a_run_title_with_line_breaks_is_kept_on_one_line(client_for, lead, ml_template, team):
    _start(client_for(lead), ml_template, team, "", title="churn\r\nv9\n")
    assert Run.objects.get().title == "churn v9"


def test_cancelling_with_an_over_long_note_is_refused_and_the_run_keeps_running(
    client_for, lead, ml_template
):
    run = services.start_run(template=ml_template, title="churn", owner=lead, by=lead)
    response = client_for(lead).post(
        reverse("workflows:run_cancel", args=[run.pk]), {"note": "n" * 501}
    )
    assert response.status_code == 422
    assert "at most 500 characters" in response.content.decode()
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING
