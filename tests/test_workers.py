"""Each xdist worker has a Redis database of its own (tests/workers.py)."""

import pytest

from tests import workers


def test_each_worker_has_its_own_redis_database(monkeypatch):
    seen = {}
    for number in range(workers.MAX_WORKERS):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{number}")
        seen[number] = workers.redis_url("redis://127.0.0.1:6394/0")
    assert len(set(seen.values())) == workers.MAX_WORKERS
    # Database 0 is the broker's own; none is past the last of redis-server's 16.
    assert seen[0] == "redis://127.0.0.1:6394/1"
    assert seen[14] == "redis://127.0.0.1:6394/15"


def test_outside_xdist_it_is_the_first_workers():
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("PYTEST_XDIST_WORKER", raising=False)
        assert workers.worker_name() == "gw0"
        assert workers.redis_database() == 1


def test_a_worker_past_the_last_database_is_refused_not_shared(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{workers.MAX_WORKERS}")
    with pytest.raises(RuntimeError, match="at most 15 workers"):
        workers.redis_database()
