"""test/conftest.py: every run ends with the time per layer, setup and teardown included.

Like test_ci_skips.py, the inner runs are subprocesses with a copy of the suite's conftest."""

import importlib.util
import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST_PATH = Path(__file__).resolve().parents[1] / "conftest.py"
CONFTEST = CONFTEST_PATH.read_text()
ROW = re.compile(r"^(\S+)\s+(\d+)\s+(\d+\.\d)$")

# test/unit: 2 tests whose time is all in a module fixture's setup and a teardown;
# test/integration: 1 test whose time is its call. A failure and a skip still count.
UNIT = """\
import time

import pytest


@pytest.fixture(scope="module")
def slow_setup():
    time.sleep(0.6)


@pytest.fixture
def slow_teardown():
    yield
    time.sleep(0.4)


def test_first(slow_setup):
    pass


def test_second(slow_setup, slow_teardown):
    pass
"""
INTEGRATION = """\
import time

import pytest


def test_slow_call():
    time.sleep(0.3)


def test_fails():
    assert False


def test_skipped():
    pytest.skip("no MariaDB here")
"""


def rows(result):
    """``{layer: (tests, seconds)}`` from the table after its header line."""
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if "time per layer" in line)
    assert lines[start + 1].split() == ["layer", "tests", "seconds"], lines[start:]
    table = {}
    for line in lines[start + 2 :]:
        match = ROW.match(line)
        if not match:
            break
        table[match[1]] = (int(match[2]), float(match[3]))
    return table


@pytest.fixture
def suite(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    pytester.makeini("[pytest]\n")
    pytester.makeconftest(CONFTEST)
    test = pytester.mkdir("test")
    for layer, source in (("unit", UNIT), ("integration", INTEGRATION)):
        test.joinpath(layer).mkdir()
        test.joinpath(layer, f"test_{layer}.py").write_text(source)
    return pytester


def test_each_layer_has_its_count_and_its_seconds_with_setup_and_teardown(suite):
    result = suite.runpytest_subprocess()
    result.assert_outcomes(passed=3, failed=1, skipped=1)
    table = rows(result)
    assert list(table) == ["test/unit", "test/integration", "total"], table
    unit_tests, unit_seconds = table["test/unit"]
    integration_tests, integration_seconds = table["test/integration"]
    assert (unit_tests, integration_tests, table["total"][0]) == (2, 3, 5)
    # 0.6 s of module setup + 0.4 s of teardown, no time in the calls
    assert unit_seconds >= 1.0, table
    assert integration_seconds >= 0.3, table
    assert table["total"][1] >= 1.3, table


def test_a_run_of_one_layer_lists_only_that_layer(suite):
    result = suite.runpytest_subprocess("test/integration")
    table = rows(result)
    assert list(table) == ["test/integration", "total"], table
    assert table["test/integration"][0] == table["total"][0] == 3


def test_the_layers_are_the_suites_directories():
    # a renamed layer directory would fall out of its row into one of its own
    spec = importlib.util.spec_from_file_location("suite_conftest", CONFTEST_PATH)
    suite_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite_conftest)
    root = CONFTEST_PATH.parents[1]
    assert suite_conftest.LAYERS == (
        "test/unit",
        "test/integration",
        "test/simulator/tests",
        "test/lab_tests",
    )
    for layer in suite_conftest.LAYERS:
        assert (root / layer).is_dir(), layer
