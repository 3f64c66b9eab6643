"""Shared race harness for tests against a real database with real threads."""

import threading
from collections import Counter
from collections.abc import Callable

from django.db import close_old_connections, connection


def race(n: int, work: Callable[[int], object]) -> Counter:
    """Run `work(i)` in n threads released together by a barrier; count outcomes:
    "ok" for a return, otherwise the exception's class name (500-style bugs included).
    Each thread closes its own database connection."""
    barrier = threading.Barrier(n)
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def run(i: int) -> None:
        try:
            barrier.wait(30)
            work(i)
            key = "ok"
        except Exception as exc:
            key = type(exc).__name__
        finally:
            close_old_connections()
            connection.close()
        with lock:
            outcomes[key] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return outcomes
