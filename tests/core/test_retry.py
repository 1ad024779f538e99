"""A transaction the database gave up on (deadlock, serialization failure) is run again, a
bounded number of times, then refused with a sentence; any other error is left alone."""

import pytest
from django.db import IntegrityError, OperationalError

from apps.core import retry
from apps.core.refusals import Refused

pytestmark = pytest.mark.django_db(transaction=True)


class _PostgresError(Exception):
    def __init__(self, sqlstate):
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _failing(times, sqlstate="40P01", error=OperationalError):
    calls = []

    def call():
        calls.append(1)
        if len(calls) <= times:
            raise error("deadlock detected") from _PostgresError(sqlstate)
        return "done"

    return call, calls


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
def test_a_deadlock_or_serialization_failure_is_run_again(sqlstate):
    call, calls = _failing(2, sqlstate)
    assert retry.atomic_retrying(call, refusal="try again", backoff=0) == "done"
    assert len(calls) == 3


def test_after_the_last_attempt_the_person_gets_the_sentence_as_a_409():
    call, calls = _failing(5)
    with pytest.raises(Refused, match="try again") as refused:
        retry.atomic_retrying(call, refusal="try again", attempts=3, backoff=0)
    assert refused.value.status == 409
    assert len(calls) == 3


def test_other_database_errors_are_not_retried():
    call, calls = _failing(1, sqlstate="23505", error=IntegrityError)
    with pytest.raises(IntegrityError):
        retry.atomic_retrying(call, refusal="try again", backoff=0)
    assert len(calls) == 1


def test_inside_a_callers_transaction_it_is_refused_at_once():
    from django.db import transaction

    call, calls = _failing(1)
    with pytest.raises(Refused), transaction.atomic():
        retry.atomic_retrying(call, refusal="try again", backoff=0)
    assert len(calls) == 1
