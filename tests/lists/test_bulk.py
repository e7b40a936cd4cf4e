import threading

import pytest

from lists.bulk import run_ahead


def test_run_ahead_yields_everything_in_order():
    assert list(run_ahead(iter(range(100)), depth=2)) == list(range(100))


def test_run_ahead_raises_the_producers_error_after_the_items_before_it():
    def produce():
        yield 1
        yield 2
        raise ValueError("row 3 is broken")

    seen = []
    with pytest.raises(ValueError, match="row 3 is broken"):
        for item in run_ahead(produce()):
            seen.append(item)
    assert seen == [1, 2]


def test_run_ahead_stops_its_thread_when_the_consumer_stops():
    produced = []

    def produce():
        for i in range(1000):
            produced.append(i)
            yield i

    for item in run_ahead(produce(), depth=2):
        if item == 3:
            break
    assert not any(t.name == "run-ahead" and t.is_alive() for t in threading.enumerate())
    assert len(produced) < 10  # it ran ahead by a couple of items, not through the file
