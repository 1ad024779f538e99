"""E-mail delivery through the outbox, eagerly (no broker): the `make test` path."""

import smtplib

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from apps.notifications.models import EmailStatus, Kind, Notification
from apps.notifications.services import delivery, emails, outbox

pytestmark = pytest.mark.django_db


def test_a_committed_notification_is_emailed_once_and_marked_sent(send_now, member, task):
    mail.outbox = []
    [notification] = send_now(recipients=[member], task=task, payload={"title": task.title})
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [member.email]
    assert mail.outbox[0].subject == f"[Relay] Assigned to you: {task.title}"
    notification.refresh_from_db()
    assert notification.email_status == EmailStatus.SENT
    assert notification.sent_at is not None
    assert notification.attempts == 1


def test_message_id_is_derived_from_the_key(send_now, member):
    mail.outbox = []
    [notification] = send_now(recipients=[member], key="evt:1")
    header = mail.outbox[0].extra_headers["Message-ID"]
    assert header == emails.message_id(key=notification.key)
    assert header == emails.message_id(key=f"evt:1:to:{member.pk}")
    assert header != emails.message_id(key=f"evt:2:to:{member.pk}")


def test_a_rolled_back_change_writes_and_sends_nothing(member, django_capture_on_commit_callbacks):
    mail.outbox = []
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        outbox.notify(kind=Kind.ASSIGNED, recipients=[member], key="rolled:back")
        raise RuntimeError("the change failed")
    assert callbacks == []
    assert not Notification.objects.filter(key__startswith="rolled:back").exists()
    assert mail.outbox == []


def test_notifying_the_same_event_twice_sends_one_email(send_now, member):
    mail.outbox = []
    send_now(recipients=[member], key="once")
    assert send_now(recipients=[member], key="once") == []
    assert Notification.objects.filter(recipient=member).count() == 1
    assert len(mail.outbox) == 1


def test_an_event_repeated_to_more_people_reaches_only_the_new_ones(send_now, member, make_member):
    mail.outbox = []
    newcomer = make_member("member", email="newcomer@example.com")
    send_now(recipients=[member], key="grows")
    created = send_now(recipients=[member, newcomer], key="grows")
    assert [n.recipient_id for n in created] == [newcomer.pk]
    assert Notification.objects.filter(key__startswith="grows").count() == 2
    assert len(mail.outbox) == 2


def test_delivering_a_sent_row_again_sends_nothing(send_now, member):
    mail.outbox = []
    [notification] = send_now(recipients=[member])
    assert delivery.deliver_one(notification_id=notification.pk) == "skipped"
    assert len(mail.outbox) == 1


def test_a_row_another_worker_is_sending_is_not_taken(member):
    notification = Notification.objects.create(
        recipient=member,
        kind=Kind.ASSIGNED,
        key="busy",
        email_status=EmailStatus.SENDING,
        claimed_at=timezone.now(),
        attempts=1,
    )
    assert delivery.claim(ids=[notification.pk], token="me") == []
    notification.refresh_from_db()
    assert (notification.claimed_by, notification.attempts) == ("", 1)


def test_of_two_workers_handed_the_same_rows_only_the_first_claims_them(member, other_member, task):
    rows = [
        Notification.objects.create(recipient=person, kind=Kind.ASSIGNED, key=f"two:{n}", task=task)
        for n, person in enumerate([member, other_member])
    ]
    first = delivery.claim(ids=[r.pk for r in rows], token="first")
    assert [(n.pk, n.claimed_by, n.attempts) for n in first] == [(r.pk, "first", 1) for r in rows]
    assert [n.recipient.email for n in first] == [member.email, other_member.email]
    assert [n.task.title for n in first] == [task.title, task.title]
    assert delivery.claim(ids=[r.pk for r in rows], token="second") == []


def test_a_dead_workers_claimed_rows_are_taken_again_once_its_lease_expired(member, settings):
    settings.NOTIFICATIONS_CLAIM_LEASE = 60
    notification = Notification.objects.create(recipient=member, kind=Kind.ASSIGNED, key="dead")
    assert len(delivery.claim(ids=[notification.pk], token="died")) == 1
    assert delivery.claim(ids=[notification.pk], token="early") == []
    Notification.objects.filter(pk=notification.pk).update(
        claimed_at=timezone.now() - timezone.timedelta(seconds=61)
    )
    [taken] = delivery.claim(ids=[notification.pk], token="later")
    assert (taken.claimed_by, taken.attempts, taken.recipient) == ("later", 2, member)


def test_html_email_escapes_user_text(send_now, member, make_task):
    mail.outbox = []
    evil = make_task(title="<script>alert('x')</script>")
    send_now(
        recipients=[member],
        task=evil,
        payload={"title": evil.title, "by": "<b>Eve</b>", "note": "<img src=x onerror=1>"},
    )
    html, mimetype = mail.outbox[0].alternatives[0]
    assert mimetype == "text/html"
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "<b>Eve</b>" not in html and "<img src=x" not in html
    assert "<script>alert('x')</script>" in mail.outbox[0].body  # plain text stays as typed


def test_email_links_to_the_task_with_an_absolute_url(send_now, member, task, settings):
    mail.outbox = []
    send_now(recipients=[member], task=task, payload={"title": task.title, "by": "Leo"})
    assert f"{settings.SITE_URL}/tasks/{task.pk}/" in mail.outbox[0].body
    assert "Leo assigned a task to you." in mail.outbox[0].body


def test_reviewer_note_reaches_the_author(send_now, member, task):
    mail.outbox = []
    send_now(
        kind=Kind.CHANGES_REQUESTED,
        recipients=[member],
        task=task,
        payload={"title": task.title, "by": "Rita", "note": "Please add a holdout set."},
    )
    assert mail.outbox[0].subject.startswith("[Relay] Changes requested:")
    assert "Please add a holdout set." in mail.outbox[0].body


def test_smtp_errors_are_retried_then_the_row_fails_with_the_error(
    send_now, flaky_smtp, make_member
):
    unlucky = make_member(email="tempfail@example.com")
    [notification] = send_now(recipients=[unlucky])
    notification.refresh_from_db()
    assert notification.email_status == EmailStatus.FAILED
    assert notification.attempts == 3
    assert "451" in notification.last_error


def test_one_failing_address_does_not_hold_up_the_others(send_now, flaky_smtp, make_member):
    unlucky = make_member(email="tempfail@example.com")
    fine = make_member(email="fine@example.com")
    send_now(recipients=[unlucky, fine])
    assert [m.to for m in mail.outbox] == [["fine@example.com"]]
    assert Notification.objects.get(recipient=fine).email_status == EmailStatus.SENT


def test_a_failed_attempt_waits_for_its_backoff(member, settings, flaky_smtp):
    settings.NOTIFICATIONS_RETRY_BACKOFF = 60
    member.email = "tempfail@example.com"
    member.save()
    notification = Notification.objects.create(recipient=member, kind=Kind.ASSIGNED, key="k")
    assert delivery.deliver_one(notification_id=notification.pk) == "retry"
    notification.refresh_from_db()
    assert notification.email_status == EmailStatus.PENDING
    assert notification.next_attempt_at > timezone.now() + timezone.timedelta(seconds=50)
    assert delivery.deliver_one(notification_id=notification.pk) == "skipped"  # not due yet


def test_people_without_an_email_address_get_the_inbox_only(send_now, make_member):
    mail.outbox = []
    nobody = make_member(email="")
    [notification] = send_now(recipients=[nobody])
    assert notification.email_status == EmailStatus.SKIPPED
    assert mail.outbox == []


def test_task_transitions_email_the_people_concerned(
    member, lead, task, django_capture_on_commit_callbacks
):
    from apps.tasks import services as tasks

    mail.outbox = []
    with django_capture_on_commit_callbacks(execute=True):
        tasks.assign_to(task=task, assignee=member, by=lead)
    assert [m.to for m in mail.outbox] == [[member.email]]


def _claim_reads() -> int:
    """On PostgreSQL the claim returns its rows with their recipients and tasks (one statement);
    elsewhere it reads them back (two)."""
    from django.db import connection

    return 0 if connection.vendor == "postgresql" else 1


def test_delivering_one_email_takes_two_queries_on_postgresql(
    member, task, django_assert_num_queries
):
    notification = Notification.objects.create(
        recipient=member, kind=Kind.ASSIGNED, key="q", task=task
    )
    with django_assert_num_queries(2 + _claim_reads()):  # claim (and read), mark sent
        assert delivery.deliver_one(notification_id=notification.pk) == "sent"
    [sent] = mail.outbox[-1:]
    assert sent.to == [member.email] and task.get_absolute_url() in sent.body


def test_one_transaction_enqueues_one_delivery_for_all_its_notifications(
    make_member, django_capture_on_commit_callbacks, monkeypatch
):
    enqueued = []
    monkeypatch.setattr(outbox, "enqueue_delivery", lambda **kw: enqueued.append(kw["ids"]))
    people = [make_member() for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        rows = [
            outbox.notify(kind=Kind.ASSIGNED, recipients=[person], key=f"batch:{i}")[0]
            for i, person in enumerate(people)
        ]
    assert enqueued == [[row.pk for row in rows]]


def test_a_rolled_back_savepoint_keeps_the_rest_of_the_transaction_deliverable(
    member, other_member, django_capture_on_commit_callbacks
):
    mail.outbox = []
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            outbox.notify(kind=Kind.ASSIGNED, recipients=[other_member], key="undone")
            raise RuntimeError("this part failed")
        outbox.notify(kind=Kind.ASSIGNED, recipients=[member], key="kept")
    assert [m.to for m in mail.outbox] == [[member.email]]


def test_a_batch_costs_one_query_per_email_plus_one_claim_per_chunk(
    make_member, django_assert_num_queries
):
    people = [make_member() for _ in range(20)]
    rows = [
        Notification.objects.create(recipient=p, kind=Kind.ASSIGNED, key=f"b{p.pk}") for p in people
    ]
    chunks = 20 // delivery.CLAIM_CHUNK
    with django_assert_num_queries(20 + chunks * (1 + _claim_reads())):  # mark each; claim chunks
        assert delivery.deliver(ids=[r.pk for r in rows])["sent"] == 20
    assert sorted(m.to[0] for m in mail.outbox[-20:]) == sorted(p.email for p in people)


def test_a_run_alert_without_a_task_links_to_the_path_in_its_payload(send_now, member, settings):
    mail.outbox = []
    send_now(
        kind=Kind.RUN_FAILED,
        recipients=[member],
        payload={"title": "Churn model run", "run": "Churn model run", "url": "/runs/7/"},
    )
    assert mail.outbox[0].subject == "[Relay] Run failed: Churn model run"
    assert f"Open in Relay: {settings.SITE_URL}/runs/7/" in mail.outbox[0].body


def test_unassignable_email_lists_the_reasons(send_now, member, task):
    mail.outbox = []
    send_now(
        kind=Kind.UNASSIGNABLE,
        recipients=[member],
        task=task,
        payload={"title": task.title, "reasons": ["Mia is on time off", "Otto is at capacity"]},
    )
    assert "  - Mia is on time off\n  - Otto is at capacity" in mail.outbox[0].body


def test_the_faster_serialisation_gives_the_same_email(member, task):
    import email
    import email.policy

    notification = Notification.objects.create(
        recipient=member, kind=Kind.ASSIGNED, key="same", task=task, payload={"title": "Ünïcode"}
    )
    fast = emails.build_email(notification=notification)
    stock_bytes = super(emails.RelayEmail, fast).message(policy=email.policy.SMTP).as_bytes()
    parse = lambda raw: email.message_from_bytes(raw, policy=email.policy.default)  # noqa: E731
    fast_msg = parse(fast.message(policy=email.policy.SMTP).as_bytes())
    stock_msg = parse(stock_bytes)
    for header in ("Subject", "From", "To", "Message-ID", "X-Relay-Notification"):
        assert fast_msg[header] == stock_msg[header]
    for kind in ("plain", "html"):
        fast_part = fast_msg.get_body(preferencelist=(kind,)).get_content()
        assert fast_part == stock_msg.get_body(preferencelist=(kind,)).get_content()


def test_emails_in_a_row_serialise_byte_for_byte_as_the_stock_code_does(member, task):
    """The second and third e-mails re-use the headers the first one parsed and folded."""
    import email.policy
    import re

    def normalised(raw: bytes) -> bytes:  # the random boundary and the clock
        raw = re.sub(rb"={15}\d+==", b"BOUNDARY", raw)
        return re.sub(rb"Date: [^\r\n]+", b"Date: D", raw)

    for n, title in enumerate(["Ünïcode", "plain", "a much longer title " * 6]):
        notification = Notification.objects.create(
            recipient=member,
            kind=Kind.ASSIGNED,
            key=f"bytes:{n}",
            task=task,
            payload={"title": title},
        )
        fast = emails.build_email(notification=notification)
        stock = super(emails.RelayEmail, fast).message(policy=email.policy.SMTP).as_bytes()
        assert normalised(fast.message(policy=email.policy.SMTP).as_bytes()) == normalised(stock)


def test_someone_whose_address_was_removed_since_is_not_emailed(member):
    notification = Notification.objects.create(recipient=member, kind=Kind.ASSIGNED, key="gone")
    member.email = ""
    member.save()
    mail.outbox = []
    assert delivery.deliver_one(notification_id=notification.pk) == "skipped"
    notification.refresh_from_db()
    assert notification.email_status == EmailStatus.SKIPPED
    assert mail.outbox == []


def test_an_idle_smtp_session_that_the_server_closed_is_reopened(member):
    class Session:
        def noop(self):
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    reused = delivery._ReusedMailer()
    reused.send(emails.build_email(notification=_row(member, "first")))
    reused.mailer.connection = Session()
    reused.last_used -= reused.IDLE_CHECK_SECONDS + 1
    stale = reused.mailer
    mail.outbox = []
    reused.send(emails.build_email(notification=_row(member, "second")))
    assert reused.mailer is not stale
    assert len(mail.outbox) == 1


def _row(member, key):
    return Notification.objects.create(recipient=member, kind=Kind.ASSIGNED, key=key)
