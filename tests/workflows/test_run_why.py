"""The run says why. Its page shows each task's recorded outputs, the route it took and the
condition that chose it, the checks that failed on a loop-back and the doer's note; a loop-back
carries the failed check and the note onto the next iteration's task and into the alert. A
failure whose route goes forward (support: L1 failed → escalate to L2) is not announced as
going back, anywhere."""

import copy

import pytest
from django.urls import reverse

from apps.hooks.models import Delivery, Event, Webhook
from apps.notifications.models import Kind, Notification
from apps.notifications.services.emails import build_email
from apps.tasks import services as task_services
from apps.workflows import definitions, exchange, services
from apps.workflows.explain import WHY_HEADING
from apps.workflows.models import RouteTaken

from ..factories import PersonSkillFactory
from ..html import text_of, texts_of
from .helpers import finish, open_task, tick_required

CHECK = "accuracy >= inputs.threshold"


@pytest.fixture
def run(ml_template, lead):
    """The ML example driven by data: Evaluate records its accuracy and goes to review only
    if `accuracy >= inputs.threshold`; otherwise back to Train (the default route)."""
    return services.start_run(
        template=ml_template, title="churn-v3", owner=lead, by=lead, inputs={"threshold": 0.9}
    )


def evaluate_with(run, accuracy, note=""):
    """Train, then Evaluate passes with this accuracy and note, as its doer would."""
    finish(run, "train")
    evaluate = open_task(run, "evaluate")
    if evaluate.state == "assigned":
        evaluate = task_services.start(task=evaluate, by=evaluate.assignee)
    tick_required(evaluate)
    return services.finish_step(
        task=evaluate, by=evaluate.assignee, outputs={"accuracy": accuracy}, note=note
    )


def evaluate_below_threshold(run, note="Overfits on fold 3."):
    """Accuracy 0.81 < 0.9: the check fails and the run loops back to Train."""
    return evaluate_with(run, 0.81, note)


def test_the_run_page_shows_a_tasks_outputs_with_the_steps_labels(client_for, lead, run):
    evaluate = evaluate_below_threshold(run)
    html = client_for(lead).get(run.get_absolute_url()).content.decode()
    assert text_of(html, testid=f"why-{evaluate.pk}").startswith("Accuracy 0.81")


def test_a_loop_back_shows_which_check_failed_with_the_values_it_read(client_for, lead, run):
    evaluate = evaluate_below_threshold(run)
    html = client_for(lead).get(run.get_absolute_url()).content.decode()
    why = text_of(html, testid=f"why-{evaluate.pk}")
    assert "↩ The run loops back to Train model" in why
    assert texts_of(html, testid="failed-check") == [
        "Failed check: accuracy >= inputs.threshold (accuracy = 0.81, inputs.threshold = 0.9)"
    ]


def test_a_loop_back_shows_the_doers_note(client_for, lead, run):
    evaluate = evaluate_below_threshold(run, note="Overfits on fold 3.")
    html = client_for(lead).get(run.get_absolute_url()).content.decode()
    assert texts_of(html, testid="note") == [
        f"{evaluate.assignee.display_name}: Overfits on fold 3."
    ]


def test_a_route_chosen_by_a_condition_names_it_and_the_values_it_read(client_for, lead, run):
    evaluate = evaluate_with(run, 0.93)
    html = client_for(lead).get(run.get_absolute_url()).content.decode()
    assert text_of(html, testid=f"why-{evaluate.pk}") == (
        "Accuracy 0.93 → The run goes on to Peer review because "
        "accuracy >= inputs.threshold "
        "· read accuracy = 0.93, inputs.threshold = 0.9"
    )
    assert texts_of(html, testid="failed-check") == []


def test_a_run_recorded_before_routes_were_kept_is_told_from_the_template(client_for, lead, run):
    finish(run, "train")
    RouteTaken.objects.all().delete()
    train = run.tasks.get(step__key="train")
    html = client_for(lead).get(run.get_absolute_url()).content.decode()
    assert text_of(html, testid=f"why-{train.pk}") == "→ The run goes on to Evaluate"


@pytest.mark.parametrize("loops", [1, 4])
def test_the_run_page_costs_the_same_queries_however_many_loop_backs_it_explains(
    client_for, lead, run, django_assert_max_num_queries, loops
):
    for i in range(loops):
        evaluate_below_threshold(run, note=f"Attempt {i + 1} overfits.")
    client = client_for(lead)
    with django_assert_max_num_queries(10):
        response = client.get(run.get_absolute_url())
    assert len(texts_of(response, testid="failed-check")) == loops
    assert texts_of(response, testid="note")[-1].endswith(f": Attempt {loops} overfits.")


# --- the loop-back's why, carried on ------------------------------------------------------------


@pytest.fixture
def hook(team, lead, settings):
    settings.RELAY_WEBHOOKS_ALLOW_PRIVATE = True
    return Webhook.objects.create(
        team=team, url="http://127.0.0.1:8831/x", events=[str(e) for e in Event], created_by=lead
    )


def events_of(hook, event):
    return [d.payload["data"] for d in Delivery.objects.filter(webhook=hook, event=event)]


def _step_alerts(run):
    return Notification.objects.filter(kind=Kind.RUN_FAILED, run_id=run.pk).order_by("pk")


def test_the_next_iterations_task_says_why_it_came_back(run, lead):
    evaluate = evaluate_below_threshold(run, note="Overfits on fold 3.")
    train = open_task(run, "train")
    assert train.iteration == 2
    assert train.description.splitlines()[:4] == [
        WHY_HEADING,
        "Evaluate (iteration 1) finished.",
        f"Failed check: {CHECK} (accuracy = 0.81, inputs.threshold = 0.9).",
        f"Note from {evaluate.assignee.display_name}: “Overfits on fold 3.”",
    ]


def test_the_drawer_shows_why_the_task_came_back(client_for, run, lead):
    evaluate_below_threshold(run, note="Overfits on fold 3.")
    train = open_task(run, "train")
    html = client_for(lead).get(reverse("boards:drawer", args=[train.pk])).content.decode()
    description = text_of(html, class_="description")
    assert description.startswith(f"{WHY_HEADING} Evaluate (iteration 1) finished.")
    assert "“Overfits on fold 3.”" in description


def test_the_loop_back_alert_names_the_failed_check_and_the_note(run, lead):
    evaluate_below_threshold(run, note="Overfits on fold 3.")
    alert = _step_alerts(run).filter(recipient=lead).get()
    assert alert.label == "Run sent back"
    body = build_email(notification=alert).body
    assert "Evaluate finished; the run loops back to Train model." in body
    assert f"Failed check: {CHECK} (accuracy = 0.81, inputs.threshold = 0.9)." in body
    assert "“Overfits on fold 3.”" in body


def test_a_review_sending_work_back_carries_the_reviewers_note(ml_template, lead):
    run = services.start_run(template=ml_template, title="churn", owner=lead, by=lead)
    finish(run, "train")
    finish(run, "evaluate", "passed")
    review = open_task(run, "review")
    if review.state == "assigned":
        review = task_services.start(task=review, by=review.assignee)
    task_services.request_changes(task=review, by=review.assignee, note="Leakage in feature 7.")
    train = open_task(run, "train")
    assert "Peer review (iteration 1) finished changes requested." in train.description
    assert "“Leakage in feature 7.”" in train.description


# --- support escalation: L1 failed goes forward to L2 ------------------------------------------


@pytest.fixture
def support_run(team, skills, lead, make_member):
    supporter = make_member(username="sam", capacity=5)
    PersonSkillFactory(user=supporter, skill=skills["support"], level=4)
    engineer = make_member(username="eli", capacity=5)
    PersonSkillFactory(user=engineer, skill=skills["devops"], level=4)
    template = exchange.import_template(copy.deepcopy(definitions.SUPPORT_ESCALATION), team=team)
    run = services.start_run(template=template, title="Printer on fire", owner=lead, by=lead)
    finish(run, "triage")
    return run


def test_escalating_from_l1_to_l2_is_not_announced_as_going_back(support_run, lead, hook):
    finish(support_run, "l1", "failed")
    alert = _step_alerts(support_run).filter(recipient=lead).get()
    assert alert.label == "Step failed, run goes on"
    email = build_email(notification=alert)
    assert email.subject == f"[Relay] Step failed, run goes on: {support_run.title}"
    assert "L1 support finished failed; the run goes on to L2 engineering." in email.body
    assert "back" not in email.body.split("Note:")[1].split("Open")[0]
    assert events_of(hook, Event.RUN_LOOPED_BACK) == []
    assert WHY_HEADING not in open_task(support_run, "l2").description


def test_the_support_run_page_says_l1_went_on_and_l2_went_back(client_for, support_run, lead):
    l1 = finish(support_run, "l1", "failed")
    l2 = finish(support_run, "l2", "failed")
    html = client_for(lead).get(support_run.get_absolute_url()).content.decode()
    assert text_of(html, testid=f"why-{l1.pk}") == "→ The run goes on to L2 engineering"
    assert text_of(html, testid=f"why-{l2.pk}") == "↩ The run loops back to L1 support"


def test_l2_sending_it_back_to_l1_is_a_loop_back(support_run, lead, hook):
    finish(support_run, "l1", "failed")
    finish(support_run, "l2", "failed")
    back = _step_alerts(support_run).filter(recipient=lead).last()
    assert back.label == "Run sent back"
    assert "L2 engineering finished failed; the run loops back to L1 support." in (
        build_email(notification=back).body
    )
    [event] = events_of(hook, Event.RUN_LOOPED_BACK)
    assert [t["step"]["key"] for t in event["to"]] == ["l1"]
    assert open_task(support_run, "l1").description.startswith(WHY_HEADING)
