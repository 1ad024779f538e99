"""The leads' webhook pages: who may see them, what a bad URL gets, redeliver from the log."""

import pytest
from django.db import transaction
from django.urls import reverse

from apps.hooks.models import Delivery, Event, Status, Webhook
from apps.hooks.services import emit_event

from ..html import text_of, texts_of

pytestmark = pytest.mark.django_db


def list_url(team):
    return reverse("hooks:list", args=[team.slug])


def detail_url(hook):
    return reverse("hooks:detail", args=[hook.team.slug, hook.pk])


def written(team, n=1) -> list[Delivery]:
    """Deliveries written but not sent (their commit's message never ran)."""
    out = []
    with transaction.atomic():
        for i in range(n):
            out += emit_event(team=team, event=Event.RUN_STARTED, payload={"n": i})
    return out


def test_a_lead_adds_a_webhook_and_sees_its_secret_once_right_away(
    client_for, team, lead, allow_private
):
    response = client_for(lead).post(
        list_url(team),
        {"url": "http://127.0.0.1:8831/in", "events": ["task.transitioned", "run.finished"]},
    )
    assert response.status_code == 201
    hook = Webhook.objects.get()
    assert (hook.team, hook.created_by, hook.is_active) == (team, lead, True)
    assert hook.events == ["task.transitioned", "run.finished"]
    assert text_of(response.content.decode(), testid="webhook-secret") == hook.secret
    # Later visits keep it hidden until asked for.
    page = client_for(lead).get(detail_url(hook)).content.decode()
    assert hook.secret not in page


def test_a_lead_shows_the_secret_on_demand(client_for, hook, lead):
    response = client_for(lead).post(
        reverse("hooks:secret", args=[hook.team.slug, hook.pk]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert text_of(response.content.decode(), testid="webhook-secret") == hook.secret


def test_replacing_the_secret_signs_from_then_on_with_the_new_one(client_for, hook, lead):
    old = hook.secret
    response = client_for(lead).post(
        reverse("hooks:secret", args=[hook.team.slug, hook.pk]),
        {"rotate": "1"},
        headers={"HX-Request": "true"},
    )
    hook.refresh_from_db()
    assert hook.secret != old
    assert text_of(response.content.decode(), testid="webhook-secret") == hook.secret


def test_a_url_on_this_machine_is_refused_with_the_reason_and_nothing_is_saved(
    client_for, team, lead
):
    response = client_for(lead).post(
        list_url(team), {"url": "http://127.0.0.1:8000/x", "events": ["run.started"]}
    )
    assert response.status_code == 422
    assert "127.0.0.1, a loopback address" in response.content.decode()
    assert not Webhook.objects.exists()


def test_a_webhook_without_events_is_refused(client_for, team, lead, allow_private):
    response = client_for(lead).post(list_url(team), {"url": "http://127.0.0.1:8831/x"})
    assert response.status_code == 422
    assert not Webhook.objects.exists()


def test_a_member_who_is_not_a_lead_is_told_only_leads_manage_webhooks(client_for, hook, member):
    client = client_for(member)
    response = client.get(list_url(hook.team))
    assert response.status_code == 403
    assert "Only a lead of Data Science can manage its webhooks." in response.content.decode()
    assert hook.url not in response.content.decode()
    for url in (
        detail_url(hook),
        reverse("hooks:secret", args=[hook.team.slug, hook.pk]),
        reverse("hooks:delete", args=[hook.team.slug, hook.pk]),
    ):
        response = client.post(url, {"url": "http://127.0.0.1:1/", "events": ["run.started"]})
        assert response.status_code == 403, url
        assert hook.secret not in response.content.decode()
    hook.refresh_from_db()
    assert hook.url.endswith("/relay-hook")


def test_another_teams_lead_finds_no_such_page(client_for, hook, outsider):
    client = client_for(outsider)
    assert client.get(list_url(hook.team)).status_code == 404
    assert client.get(detail_url(hook)).status_code == 404
    assert client.post(reverse("hooks:delete", args=[hook.team.slug, hook.pk])).status_code == 404
    assert Webhook.objects.filter(pk=hook.pk).exists()


def test_a_hook_is_not_found_under_another_teams_address(client_for, hook, outsider):
    """Olga leads Elsewhere: Data Science's hook id under her own team's path is no hook."""
    url = reverse("hooks:detail", args=["elsewhere", hook.pk])
    assert client_for(outsider).get(url).status_code == 404


def test_a_lead_changes_the_events_and_pauses_the_hook(client_for, hook, lead):
    response = client_for(lead).post(
        detail_url(hook), {"url": hook.url, "events": ["run.looped_back"], "description": "CI"}
    )
    assert response.status_code == 302
    hook.refresh_from_db()
    assert (hook.events, hook.is_active, hook.description) == (["run.looped_back"], False, "CI")


def test_a_lead_deletes_a_hook(client_for, hook, lead):
    response = client_for(lead).post(reverse("hooks:delete", args=[hook.team.slug, hook.pk]))
    assert response.status_code == 302
    assert not Webhook.objects.exists()


def test_the_list_shows_each_hook_with_its_unsent_and_failed_counts(client_for, hook, lead):
    [a, _pending] = written(hook.team, 2)
    Delivery.objects.filter(pk=a.pk).update(status=Status.FAILED)
    page = client_for(lead).get(list_url(hook.team)).content.decode()
    assert hook.url in text_of(page, testid="webhook-list")
    assert "1 / 1" in text_of(page, testid="webhook-list")


def test_the_delivery_log_shows_status_code_attempts_and_error(client_for, hook, lead):
    [delivery] = written(hook.team)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Status.FAILED,
        attempts=8,
        last_status_code=500,
        last_error="The receiver answered HTTP 500.",
    )
    log = text_of(client_for(lead).get(detail_url(hook)).content.decode(), testid="delivery-log")
    assert "HTTP 500" in log
    assert "The receiver answered HTTP 500." in log
    assert "Failed" in log
    assert str(delivery.delivery_id)[:8] in log


def test_redeliver_from_the_log_sends_it_again_and_answers_the_row(
    client_for, hook, lead, receiver, django_capture_on_commit_callbacks
):
    [delivery] = written(hook.team)
    Delivery.objects.filter(pk=delivery.pk).update(status=Status.FAILED, attempts=8)
    url = reverse("hooks:redeliver", args=[hook.team.slug, hook.pk, delivery.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(lead).post(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    [got] = receiver.received
    assert got.headers["X-Relay-Delivery"] == str(delivery.delivery_id)
    delivery.refresh_from_db()
    assert delivery.status == Status.SENT
    assert texts_of(response.content.decode(), class_="delivery-row")


def test_a_member_cannot_redeliver(client_for, hook, member, receiver):
    [delivery] = written(hook.team)
    Delivery.objects.filter(pk=delivery.pk).update(status=Status.FAILED)
    url = reverse("hooks:redeliver", args=[hook.team.slug, hook.pk, delivery.pk])
    response = client_for(member).post(url, headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert Delivery.objects.get(pk=delivery.pk).status == Status.FAILED


def test_redelivering_an_inactive_hooks_delivery_is_refused_with_a_sentence(client_for, hook, lead):
    [delivery] = written(hook.team)
    hook.is_active = False
    hook.save()
    url = reverse("hooks:redeliver", args=[hook.team.slug, hook.pk, delivery.pk])
    response = client_for(lead).post(url, headers={"HX-Request": "true"})
    assert response.status_code == 409
    assert "activate it before redelivering" in response.content.decode()


@pytest.mark.parametrize("deliveries", [1, 40])
def test_the_hook_page_reads_a_fixed_number_of_queries(
    client_for, hook, lead, deliveries, django_assert_max_num_queries
):
    written(hook.team, deliveries)
    client = client_for(lead)
    with django_assert_max_num_queries(8):
        response = client.get(detail_url(hook))
    assert response.status_code == 200
    assert len(texts_of(response.content.decode(), class_="delivery-row")) == deliveries


@pytest.mark.parametrize("hooks", [1, 12])
def test_the_list_reads_a_fixed_number_of_queries(
    client_for, team, lead, hooks, allow_private, django_assert_max_num_queries
):
    for i in range(hooks):
        Webhook.objects.create(team=team, url=f"http://127.0.0.1:8831/{i}", events=["run.started"])
    client = client_for(lead)
    with django_assert_max_num_queries(7):
        response = client.get(list_url(team))
    assert response.status_code == 200
    assert response.content.decode().count("http://127.0.0.1:8831/") >= hooks


def test_a_lead_sees_the_webhooks_button_on_the_board_and_a_member_does_not(
    client_for, team, lead, member
):
    board = reverse("boards:board", args=[team.slug])
    assert texts_of(client_for(lead).get(board).content.decode(), testid="webhooks-link")
    assert not texts_of(client_for(member).get(board).content.decode(), testid="webhooks-link")
