"""Running calls at the same moment, each in its own thread and database connection."""

import threading

from django.db import connection

from apps.tasks.services import TaskActionRefused


def run_together(*calls):
    """Release every call at once; each result is ("ok", value) or ("refused", message)."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(i, call):
        try:
            barrier.wait()
            results[i] = ("ok", call())
        except TaskActionRefused as error:
            results[i] = ("refused", str(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results
