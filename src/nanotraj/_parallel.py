"""Thread helpers shared by the library (one owner for "run this in the job's threads").

numpy, scipy and the compiled kernels (``nogil``) release the GIL inside their loops, so chunks
of work run in parallel in threads.  Every helper here keeps results independent of the number
of threads: the caller decides what each chunk computes and combines results in input order.
Only the standard library is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

__all__ = ["run_each", "run_ranges", "ordered_map"]


def run_each(fn: Callable, items: Iterable, workers: int) -> None:
    """``fn(item)`` for every item, in ``workers`` threads (in the caller's thread when
    ``workers <= 1`` or there is a single item).  Exceptions propagate."""
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        for item in items:
            fn(item)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(fn, items))


def run_ranges(fn: Callable[[int, int], object], n: int, workers: int, chunk: int) -> None:
    """``fn(a, b)`` for consecutive ranges ``[a, b)`` of ``chunk`` covering ``0 .. n-1``, in
    ``workers`` threads."""
    run_each(lambda a: fn(a, min(n, a + chunk)), range(0, n, chunk), workers)


def ordered_map(fn: Callable, items: Iterable, workers: int) -> Iterator:
    """``map(fn, items)`` evaluated by ``workers`` threads, results yielded in input order.

    The caller combines the results in input order, so every floating-point sum is done in the
    same order as with ``workers=1``: the output does not depend on ``workers`` (bit for bit).
    At most ``2 * workers`` results wait in memory.
    """
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        yield from map(fn, items)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as ex:
        pending = deque()
        for item in items:
            pending.append(ex.submit(fn, item))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
