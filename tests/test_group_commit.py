"""config.group_commit: concurrent submissions share one call; every one gets its own result."""

import threading
import time

import pytest

from config.group_commit import GroupCommit


def test_alone_an_item_is_a_batch_of_one():
    calls = []
    commit = GroupCommit(lambda items: calls.append(list(items)) or [i * 2 for i in items])

    assert commit.submit(21) == 42
    assert commit.submit(5) == 10
    assert calls == [[21], [5]]


def _run_all(commit, items):
    results: dict[int, object] = {}

    def run(item):
        try:
            results[item] = commit.submit(item)
        except Exception as exc:  # handed to the test thread
            results[item] = exc

    threads = [threading.Thread(target=run, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    return threads, results


def test_items_that_arrive_while_a_batch_is_applied_go_together_in_the_next():
    calls: list[list[int]] = []
    first_started, let_first_finish = threading.Event(), threading.Event()

    def apply_many(items):
        calls.append(list(items))
        if len(calls) == 1:
            first_started.set()
            assert let_first_finish.wait(10)
        return [f"done {item}" for item in items]

    commit = GroupCommit(apply_many)
    first, first_results = _run_all(commit, [0])
    assert first_started.wait(10)
    others, results = _run_all(commit, range(1, 9))
    deadline = time.monotonic() + 10
    while len(commit._waiting) < 8 and time.monotonic() < deadline:
        time.sleep(0.005)
    let_first_finish.set()
    for thread in first + others:
        thread.join(10)

    assert calls[0] == [0]
    assert sorted(calls[1]) == list(range(1, 9)) and len(calls) == 2
    assert first_results == {0: "done 0"}
    assert results == {item: f"done {item}" for item in range(1, 9)}


def test_a_batch_is_never_bigger_than_max_batch_and_none_is_left_waiting():
    calls: list[list[int]] = []
    gate = threading.Event()

    def apply_many(items):
        calls.append(list(items))
        gate.wait(10)
        return list(items)

    commit = GroupCommit(apply_many, max_batch=3)
    threads, results = _run_all(commit, range(10))
    time.sleep(0.2)
    gate.set()
    for thread in threads:
        thread.join(10)

    assert results == {item: item for item in range(10)}
    assert all(len(call) <= 3 for call in calls)
    assert sorted(item for call in calls for item in call) == list(range(10))


def test_a_failed_batch_fails_each_of_its_items_and_the_next_batch_goes_on():
    def apply_many(items):
        if 13 in items:
            raise RuntimeError("the database went away")
        return list(items)

    commit = GroupCommit(apply_many)

    with pytest.raises(RuntimeError, match="went away"):
        commit.submit(13)
    assert commit.submit(7) == 7


def test_a_wrong_result_count_is_an_error_not_a_wrong_answer():
    commit = GroupCommit(lambda items: [])

    with pytest.raises(RuntimeError, match="result count"):
        commit.submit(1)
