"""Where concurrent writers meet: run a transaction again when the database gave up on it.

PostgreSQL breaks a deadlock by aborting one of the transactions in it (SQLSTATE 40P01) and
aborts a serializable transaction that lost a race (40001); SQLite answers "database is
locked" once its busy timeout has passed. None of them changed anything, and the same work
run again a moment later usually goes through: the other transaction has committed by then.
So the whole transaction is run again, a bounded number of times with a short jittered
pause; when it still fails the person gets a sentence (a 409 refusal), never a 500.

A call already inside a transaction is not retried: the locks its caller holds would still be
held, and the outer transaction is the one to run again. It is refused at once instead.
"""

import logging
import random
import time
from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction

from .refusals import Refused

logger = logging.getLogger("relay.retry")

# Deadlock detected, serialization failure.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
ATTEMPTS = 3
# The first pause is up to this long (seconds, jittered), doubling after each attempt.
BACKOFF = 0.05


def is_conflict(error: DatabaseError) -> bool:
    """Whether `error` is the database aborting a transaction that may simply be run again."""
    cause = error.__cause__
    code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if code in RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(error) or "database table is locked" in str(error)


def atomic_retrying[T](
    call: Callable[[], T],
    *,
    refusal: str,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF,
    using: str = DEFAULT_DB_ALIAS,
) -> T:
    """`call()` in its own transaction, run again on a deadlock or serialization failure;
    `Refused(refusal)` (409) when the last attempt fails too, with nothing changed."""
    nested = connections[using].in_atomic_block
    attempt = 1
    while True:
        try:
            with transaction.atomic(using=using):
                return call()
        except DatabaseError as error:
            if not is_conflict(error):
                raise
            if nested or attempt == attempts:
                logger.warning(
                    "gave up after %d attempt(s) on a write conflict: %s", attempt, error
                )
                raise Refused(refusal) from error
            logger.info("write conflict, attempt %d of %d: %s", attempt, attempts, error)
            time.sleep(random.uniform(0.5, 1.0) * backoff * 2 ** (attempt - 1))
            attempt += 1
