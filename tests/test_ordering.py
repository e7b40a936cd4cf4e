"""The suite's run order (tests/ordering.py): heaviest modules first, each module kept whole."""

from tests.ordering import heaviest_modules_first, weights_from_junit

NODEIDS = [
    "tests/a/test_light.py::test_one",
    "tests/a/test_light.py::test_two",
    "tests/b/test_heavy.py::test_one[en]",
    "tests/b/test_heavy.py::test_one[ru]",
    "tests/c/test_new.py::test_one",
    "tests/c/test_middle.py::test_one",
]


def test_heavier_modules_run_first_and_keep_their_tests_in_order():
    weights = {"tests/a/test_light.py": 1.0, "tests/b/test_heavy.py": 60.0}
    weights["tests/c/test_middle.py"] = 5.0
    order = [NODEIDS[index] for index in heaviest_modules_first(NODEIDS, weights)]
    assert order == [
        "tests/b/test_heavy.py::test_one[en]",
        "tests/b/test_heavy.py::test_one[ru]",
        "tests/c/test_middle.py::test_one",
        "tests/a/test_light.py::test_one",
        "tests/a/test_light.py::test_two",
        # Not in the weights (a module added since): last, where it was collected.
        "tests/c/test_new.py::test_one",
    ]


def test_without_weights_the_collected_order_stays():
    assert heaviest_modules_first(NODEIDS, {}) == list(range(len(NODEIDS)))


def test_weights_are_read_per_module_from_a_junit_report(tmp_path):
    report = tmp_path / "report.xml"
    report.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.b.test_heavy" name="test_one[en]" time="20.5"/>'
        '<testcase classname="tests.b.test_heavy" name="test_one[ru]" time="10.0"/>'
        '<testcase classname="tests.a.test_light.TestGroup" name="test_x" time="0.25"/>'
        '<testcase classname="tests.test_root" name="test_y" time="1"/>'
        "</testsuite></testsuites>"
    )
    assert weights_from_junit(report) == {
        "tests/b/test_heavy.py": 30.5,
        "tests/test_root.py": 1.0,
        "tests/a/test_light.py": 0.2,
    }
