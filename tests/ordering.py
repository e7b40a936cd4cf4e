"""The order the suite runs in: the heaviest test modules first.

pytest-xdist's worksteal hands each worker a contiguous share of the collected tests and lets an
idle worker take half of a busy one's rest. What it cannot split is one long test: if the suite's
longest modules (the accessibility walk, the local-stack journeys) come last in collection order,
one worker runs them alone while the others wait. Run first, they overlap the many short tests
and the suite ends on short ones.

The weights are the seconds each module took in a whole run (tests/module_seconds.json),
refreshed from a JUnit report with `python -m tests.ordering report.xml`. A module missing from
the file (a new one) weighs nothing and keeps its place after the weighed ones; a stale file only
makes the order less good, never a test wrong. Tests inside a module keep their order, so a
module's once-built world (tests/security/conftest.py) is still built once per worker.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

WEIGHTS_FILE = Path(__file__).with_name("module_seconds.json")


def module_of(nodeid: str) -> str:
    """tests/browser/test_layout.py for tests/browser/test_layout.py::test_x[en]."""
    return nodeid.split("::", 1)[0]


def load_weights(path: Path = WEIGHTS_FILE) -> dict[str, float]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def heaviest_modules_first(nodeids: Sequence[str], weights: dict[str, float]) -> list[int]:
    """The indexes of `nodeids` in run order: modules by weight, heaviest first (ties and
    unweighed modules in collection order), each module's tests in their collected order."""
    first_seen: dict[str, int] = {}
    for index, nodeid in enumerate(nodeids):
        first_seen.setdefault(module_of(nodeid), index)

    def key(index: int) -> tuple[float, int, int]:
        module = module_of(nodeids[index])
        return (-weights.get(module, 0.0), first_seen[module], index)

    return sorted(range(len(nodeids)), key=key)


def weights_from_junit(report: Path) -> dict[str, float]:
    """Seconds per module file in a JUnit report (pytest's, with setup and teardown counted)."""
    seconds: Counter[str] = Counter()
    # The report is the one our own pytest run just wrote, not input from outside.
    for case in ET.parse(report).getroot().iter("testcase"):  # noqa: S314
        module = case.get("classname", "").split(".")
        # classname is tests.browser.test_layout (or ...test_layout.TestClass for a class).
        while module and not module[-1].startswith("test_"):
            module.pop()
        if module:
            seconds["/".join(module) + ".py"] += float(case.get("time") or 0)
    return {module: round(value, 1) for module, value in seconds.most_common()}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.ordering REPORT.xml  (from pytest --junitxml=REPORT.xml)")
    WEIGHTS_FILE.write_text(json.dumps(weights_from_junit(Path(sys.argv[1])), indent=1) + "\n")
    print(f"wrote {WEIGHTS_FILE}")
