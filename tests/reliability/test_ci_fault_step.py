"""CI's fault step collects tests/reliability only (`pytest -m faults ... tests/reliability` in
.ci/run): collecting the whole suite to deselect all but six tests cost each xdist worker ~28
CPU-s against ~7. This keeps that from dropping a fault test written elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
FAULTS_MARK = re.compile(r"\bmark\.faults\b")


def test_every_fault_test_lives_where_ci_collects_the_fault_step():
    marked = {
        path.relative_to(TESTS).as_posix()
        for path in TESTS.rglob("*.py")
        if path.name != Path(__file__).name and FAULTS_MARK.search(path.read_text())
    }

    assert marked, "no test is marked faults: the pattern no longer finds the marker"
    assert {name for name in marked if not name.startswith("reliability/")} == set()


def test_ci_runs_the_fault_step_on_the_reliability_folder():
    ci = (TESTS.parent / ".ci" / "run").read_text()

    assert re.search(r"pytest -m faults .*tests/reliability\s*$", ci, re.MULTILINE)
