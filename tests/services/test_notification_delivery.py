"""Notification e-mail on the real services: PostgreSQL, Redis, Celery worker processes and an
SMTP sink. Each test starts its own worker (killed in the fixture's finally) on the pytest
database and Redis database 3, and its own aiosmtpd sink."""

import email
import email.policy

import pytest
from django.db import transaction

from apps.notifications.models import EmailStatus, Kind, Notification
from apps.notifications.services import delivery, emails, outbox
from apps.tasks import services as tasks

from ..factories import TeamFactory, UserFactory
from .notification_harness import (
    Worker,
    database_url,
    free_port,
    publishing_to,
    wait_for,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def start_worker(transactional_db, broker, sink):
    workers: list[Worker] = []

    def start(concurrency: int = 2) -> Worker:
        worker = Worker(
            database_url=database_url(),
            broker_url=broker,
            smtp_port=sink.port,
            concurrency=concurrency,
        )
        workers.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            worker.close()


@pytest.fixture
def sweep_now(settings):
    """The beat sweeper, with no grace period and the workers' short claim lease."""
    settings.NOTIFICATIONS_SWEEP_GRACE = 0
    settings.NOTIFICATIONS_CLAIM_LEASE = 2
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    return delivery.sweep_undelivered


def notify_many(count: int, *, prefix: str, people, per_transaction: int = 10) -> list[str]:
    """`count` notifications, committed `per_transaction` at a time; returns their row keys."""
    keys = []
    for start in range(0, count, per_transaction):
        with transaction.atomic():
            for i in range(start, min(start + per_transaction, count)):
                person = people[i % len(people)]
                outbox.notify(
                    kind=Kind.ASSIGNED,
                    recipients=[person],
                    key=f"{prefix}:{i}",
                    payload={"title": f"Task {i}", "by": "Relay"},
                )
                keys.append(f"{prefix}:{i}:to:{person.pk}")
    return keys


def all_sent(keys) -> bool:
    return Notification.objects.filter(key__in=keys, email_status=EmailStatus.SENT).count() == len(
        keys
    )


def assert_each_arrived_once(sink, keys):
    counts = sink.by_key()
    missing = [k for k in keys if counts[k] == 0]
    duplicated = {k: c for k, c in counts.items() if c > 1}
    assert not missing, f"{len(missing)} never arrived, e.g. {missing[:3]}"
    assert not duplicated, f"{len(duplicated)} arrived more than once: {list(duplicated)[:3]}"


@pytest.fixture
def people():
    return [UserFactory(email=f"person{i}@example.com") for i in range(5)]


def test_a_thousand_notifications_each_arrive_exactly_once(start_worker, sink, people):
    start_worker(concurrency=2)
    keys = notify_many(1000, prefix="load", people=people)
    wait_for(lambda: all_sent(keys), timeout=90, message="not all 1,000 were sent")
    assert sink.count() == 1000
    assert_each_arrived_once(sink, keys)
    for received in sink.received[:50]:
        assert received.message_id == emails.message_id(key=received.key)


def test_while_the_broker_is_down_nothing_is_lost_and_the_sweeper_delivers_all(
    start_worker, sink, people, sweep_now
):
    start_worker()
    with publishing_to(f"redis://127.0.0.1:{free_port()}/3"):  # nothing listens there
        keys = notify_many(50, prefix="outage", people=people)
    assert Notification.objects.filter(key__in=keys, email_status=EmailStatus.PENDING).count() == 50
    assert sink.count() == 0
    assert sweep_now() == 50  # the broker is back: the beat sweeper enqueues them
    wait_for(lambda: all_sent(keys), timeout=30, message="the sweeper did not deliver them")
    assert_each_arrived_once(sink, keys)


def test_a_killed_worker_loses_nothing_and_duplicates_nothing(
    start_worker, sink, people, sweep_now
):
    worker = start_worker(concurrency=1)
    seen = {"data": 0}

    def kill_at_hundredth_message(to):
        # The worker dies with message 100 handed to SMTP but not yet answered: the hardest
        # moment (one message in flight, 99 marked sent, the rest queued).
        seen["data"] += 1
        if seen["data"] == 100:
            worker.kill()
            return False
        return True

    sink.on_data = kill_at_hundredth_message
    keys = notify_many(300, prefix="crash", people=people, per_transaction=50)
    wait_for(lambda: worker.process.poll() is not None, timeout=60, message="never killed")
    sink.on_data = None
    delivered_before_restart = sink.count()
    start_worker(concurrency=1)

    def swept_and_sent():
        sweep_now()  # what beat does every minute; here as often as the test polls
        return all_sent(keys)

    wait_for(swept_and_sent, timeout=60, interval=0.5, message="not all arrived after restart")
    counts = sink.by_key()
    duplicates = sum(c - 1 for c in counts.values() if c > 1)
    print(
        f"\nkilled after {delivered_before_restart} delivered; "
        f"duplicates after restart: {duplicates}"
    )
    assert delivered_before_restart == 99
    assert_each_arrived_once(sink, keys)
    assert duplicates == 0
    for received in sink.received:
        assert received.message_id == emails.message_id(key=received.key)


def test_a_worker_killed_mid_chunk_leaves_its_claimed_rows_to_be_sent_once_after_the_lease(
    start_worker, sink, people, sweep_now
):
    """A claim takes up to CLAIM_CHUNK rows at once; the worker dies after sending the 4th of
    a chunk of 10 (the 5th handed to SMTP, unanswered). The five it claimed and never sent wait
    for the lease, then each arrives exactly once, like the rest of the batch."""
    worker = start_worker(concurrency=1)
    seen = {"data": 0}

    def kill_at_fifth_message(to):
        seen["data"] += 1
        if seen["data"] == 5:
            worker.kill()
            return False
        return True

    sink.on_data = kill_at_fifth_message
    keys = notify_many(30, prefix="chunk", people=people, per_transaction=30)  # one message
    wait_for(lambda: worker.process.poll() is not None, timeout=60, message="never killed")
    sink.on_data = None
    assert sink.count() == 4
    rows = Notification.objects.filter(key__in=keys)
    # The dead worker's chunk is still claimed; the batch's other 20 rows were never touched.
    assert rows.filter(email_status=EmailStatus.SENDING).count() == delivery.CLAIM_CHUNK - 4
    assert rows.filter(email_status=EmailStatus.PENDING, attempts=0).count() == 20
    start_worker(concurrency=1)

    def swept_and_sent():
        sweep_now()
        return all_sent(keys)

    wait_for(swept_and_sent, timeout=60, interval=0.5, message="not all arrived after restart")
    assert_each_arrived_once(sink, keys)
    assert rows.filter(attempts=2).count() == delivery.CLAIM_CHUNK - 4  # the fifth included


def test_a_worker_killed_at_any_moment_loses_nothing_and_resends_keep_their_message_id(
    start_worker, sink, people, sweep_now
):
    worker = start_worker(concurrency=2)
    keys = notify_many(400, prefix="chaos", people=people, per_transaction=1)
    wait_for(lambda: sink.count() >= 150, timeout=60, message="delivery never got going")
    worker.kill()  # wherever its two pool processes happen to be
    start_worker(concurrency=2)

    def swept_and_sent():
        sweep_now()
        return all_sent(keys)

    wait_for(swept_and_sent, timeout=60, interval=0.5, message="not all arrived after restart")
    counts = sink.by_key()
    duplicates = sum(c - 1 for c in counts.values() if c > 1)
    print(f"\nkilled at an arbitrary moment: {duplicates} duplicate(s) (at most 1 per process)")
    assert all(counts[key] >= 1 for key in keys)
    # A duplicate is only ever a message SMTP accepted before its row was marked sent: at
    # most one per pool process, and it carries the same Message-ID as the first copy.
    assert duplicates <= 2
    for received in sink.received:
        assert received.message_id == emails.message_id(key=received.key)


def test_smtp_451_554_and_timeouts_are_retried_with_backoff_then_failed_while_others_flow(
    start_worker, sink, people
):
    start_worker(concurrency=2)
    troubled = [
        UserFactory(email="tempfail@example.com"),
        UserFactory(email="permfail@example.com"),
        UserFactory(email="slow@example.com"),
    ]
    with transaction.atomic():
        outbox.notify(kind=Kind.ASSIGNED, recipients=troubled, key="trouble")
    fine_keys = notify_many(40, prefix="fine", people=people)
    rows = Notification.objects.filter(key__startswith="trouble")

    wait_for(lambda: all_sent(fine_keys), timeout=30, message="good mail stopped flowing")
    wait_for(
        lambda: rows.filter(email_status=EmailStatus.FAILED).count() == 3,
        timeout=30,
        message="the troubled rows did not end failed",
    )
    assert_each_arrived_once(sink, fine_keys)
    errors = {row.recipient.email: row for row in rows.select_related("recipient")}
    assert all(row.attempts == 3 for row in errors.values())
    assert "451" in errors["tempfail@example.com"].last_error
    assert "554" in errors["permfail@example.com"].last_error
    assert "timed out" in errors["slow@example.com"].last_error.lower()
    first, second, third = sink.attempts["tempfail@example.com"]
    assert second - first >= 0.2 * 0.9  # backoff 0.2 s, then 0.4 s
    assert third - second >= 0.4 * 0.9


def test_a_rolled_back_transaction_sends_nothing(start_worker, sink, people):
    start_worker()
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.notify(kind=Kind.ASSIGNED, recipients=[people[0]], key="undone")
        raise RuntimeError("the change failed")
    with transaction.atomic():
        [marker] = outbox.notify(kind=Kind.ASSIGNED, recipients=[people[1]], key="marker")
    wait_for(lambda: sink.count() >= 1, timeout=20, message="the marker never arrived")
    assert [r.key for r in sink.received] == [marker.key]
    assert not Notification.objects.filter(key__startswith="undone").exists()


def test_html_email_escapes_user_text(start_worker, sink, people):
    start_worker()
    lead = people[0]
    team = TeamFactory(slug="escape")
    with transaction.atomic():
        task = tasks.create_task(team=team, title="<script>alert(1)</script>", by=lead)
        outbox.notify(
            kind=Kind.ASSIGNED,
            recipients=[people[1]],
            key="escape",
            task=task,
            payload={"title": task.title, "by": "<b>Mallory</b>"},
        )
    wait_for(lambda: sink.count() == 1, timeout=20, message="the e-mail never arrived")
    message = email.message_from_bytes(sink.received[0].raw, policy=email.policy.default)
    html = message.get_body(preferencelist=("html",)).get_content()
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "<script>" not in html and "<b>Mallory</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" in text
    assert message["Subject"] == "[Relay] Assigned to you: <script>alert(1)</script>"
