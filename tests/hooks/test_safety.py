"""SSRF: no webhook to this machine or a private network, at registration or at send time."""

import pytest
from django.db import transaction

from apps.core.refusals import Refused
from apps.hooks import safety, sending
from apps.hooks.models import Delivery, Event, Status, Webhook
from apps.hooks.services import create_webhook, emit_event

pytestmark = pytest.mark.django_db

EVENTS = ["task.transitioned"]


@pytest.fixture
def dns(monkeypatch):
    """Names resolve to what the test says (no real DNS); IP literals resolve to themselves."""
    answers: dict[str, list[str]] = {}
    real = safety._resolve

    def resolve(host, port):
        return answers[host] if host in answers else real(host, port)

    monkeypatch.setattr(safety, "_resolve", resolve)
    return answers


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1/hook", "127.0.0.1, a loopback address"),
        ("http://127.8.9.10:8080/hook", "a loopback address"),
        ("http://10.1.2.3/hook", "10.1.2.3, a private address"),
        ("https://192.168.0.10/hook", "a private address"),
        ("http://172.16.5.4/hook", "a private address"),
        ("http://[::1]/hook", "::1, a loopback address"),
        ("http://[::ffff:127.0.0.1]/hook", "a loopback address"),
        ("http://[fd00::1]/hook", "a private address"),
        ("http://169.254.169.254/latest/meta-data", "a link-local address"),
        ("http://224.0.0.1/hook", "a multicast address"),
        ("http://0.0.0.0/hook", "an unspecified address"),
        ("http://240.0.0.1/hook", "a reserved address"),
        ("http://localhost:8000/hook", "a loopback address"),
    ],
)
def test_a_url_resolving_to_this_machine_or_a_private_network_is_refused_with_a_sentence(
    team, lead, url, why
):
    with pytest.raises(Refused) as refusal:
        create_webhook(team=team, by=lead, url=url, events=EVENTS)
    assert why in refusal.value.message
    assert "only sent to public addresses" in refusal.value.message
    assert refusal.value.status == 422
    assert not Webhook.objects.exists()


def test_a_host_name_resolving_to_loopback_is_refused(team, lead, dns):
    dns["hooks.example.com"] = ["127.0.0.1"]
    with pytest.raises(Refused, match=r"hooks\.example\.com resolves to 127\.0\.0\.1"):
        create_webhook(team=team, by=lead, url="https://hooks.example.com/x", events=EVENTS)


def test_a_host_name_with_one_private_address_among_public_ones_is_refused(team, lead, dns):
    dns["mixed.example.com"] = ["93.184.215.14", "10.0.0.7"]
    with pytest.raises(Refused, match=r"10\.0\.0\.7, a private address"):
        create_webhook(team=team, by=lead, url="https://mixed.example.com/x", events=EVENTS)


@pytest.mark.parametrize(
    ("url", "sentence"),
    [
        ("ftp://93.184.215.14/x", "Only http:// and https:// URLs"),
        ("file:///etc/passwd", "Only http:// and https:// URLs"),
        ("gopher://93.184.215.14/", "Only http:// and https:// URLs"),
        ("https://user:pw@93.184.215.14/x", "no user name or password"),
        ("https:///x", "no host name"),
        ("http://93.184.215.14:99999/x", "not a valid URL"),
        ("", "Give the URL"),
    ],
)
def test_other_unusable_urls_are_refused_with_a_sentence(team, lead, url, sentence):
    with pytest.raises(Refused, match=sentence):
        create_webhook(team=team, by=lead, url=url, events=EVENTS)
    assert not Webhook.objects.exists()


def test_a_name_that_does_not_resolve_is_refused(team, lead, dns, monkeypatch):
    def fail(host, port):
        raise OSError("Name or service not known")

    monkeypatch.setattr(safety, "_resolve", fail)
    with pytest.raises(Refused, match="could not be resolved"):
        create_webhook(team=team, by=lead, url="https://nowhere.invalid/x", events=EVENTS)


def test_a_public_address_is_accepted(team, lead, dns):
    dns["ci.example.com"] = ["93.184.215.14"]
    hook = create_webhook(team=team, by=lead, url="https://ci.example.com/relay", events=EVENTS)
    assert hook.url == "https://ci.example.com/relay"
    assert len(hook.secret) >= 40


def test_the_setting_allows_private_addresses_on_purpose(team, lead, settings):
    settings.RELAY_WEBHOOKS_ALLOW_PRIVATE = True
    hook = create_webhook(team=team, by=lead, url="http://127.0.0.1:8831/x", events=EVENTS)
    assert hook.pk


def test_a_name_that_resolves_to_loopback_by_send_time_is_not_sent_to(team, lead, dns, receiver):
    """DNS rebinding: public when registered, this machine when sent."""
    dns["rebind.example.com"] = ["93.184.215.14"]
    hook = create_webhook(
        team=team,
        by=lead,
        url=f"http://rebind.example.com:{receiver.port}/relay-hook",
        events=["run.started"],
    )
    dns["rebind.example.com"] = ["127.0.0.1"]
    with transaction.atomic():
        [delivery] = emit_event(team=team, event=Event.RUN_STARTED, payload={})
    sending.deliver(ids=[delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == Status.PENDING  # retried later: DNS may change back
    assert "127.0.0.1, a loopback address" in delivery.last_error
    assert receiver.received == []
    assert hook.deliveries.count() == 1


def test_a_hook_registered_while_private_was_allowed_is_refused_at_send_time_after(
    team, hook, receiver, settings
):
    settings.RELAY_WEBHOOKS_ALLOW_PRIVATE = False
    with transaction.atomic():
        [delivery] = emit_event(team=team, event=Event.RUN_STARTED, payload={})
    sending.deliver(ids=[delivery.pk])
    assert receiver.received == []
    assert "loopback" in Delivery.objects.get(pk=delivery.pk).last_error


def test_the_sender_connects_to_the_address_it_checked(dns, settings):
    settings.RELAY_WEBHOOKS_ALLOW_PRIVATE = False
    dns["ci.example.com"] = ["93.184.215.14"]
    target = safety.check_url("https://ci.example.com/hook?x=1")
    assert (target.host, target.address, target.port, target.path) == (
        "ci.example.com",
        "93.184.215.14",
        443,
        "/hook?x=1",
    )
