"""test/conftest.py: with CI=true a skip fails the run, except the listed ones.

The inner runs are subprocesses: in-process, the inner test_layline_guide.py would clash
with the real one already imported by a full session."""

import importlib.util
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST_PATH = Path(__file__).resolve().parents[1] / "conftest.py"
CONFTEST = CONFTEST_PATH.read_text()
ALLOWED = "test/unit/modules/test_layline_guide.py::test_fixtures_are_the_guides_text_verbatim"


@pytest.fixture
def suite(pytester):
    pytester.makeini("[pytest]\n")
    pytester.makeconftest(CONFTEST)
    unit = pytester.mkdir("test").joinpath("unit")
    unit.mkdir()
    unit.joinpath("test_tools.py").write_text(
        "import pytest\n\n"
        "def test_needs_a_tool():\n    pytest.skip('keytool missing')\n\n"
        "def test_fine():\n    assert True\n\n"
        "@pytest.mark.xfail(reason='known')\ndef test_known_bug():\n    assert False\n"
    )
    unit.joinpath("modules").mkdir()
    unit.joinpath("modules", "test_layline_guide.py").write_text(
        "import pytest\n\n"
        "def test_fixtures_are_the_guides_text_verbatim():\n    pytest.skip('no guide')\n"
    )
    return pytester


def test_a_skip_fails_in_ci_naming_the_reason(suite, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = suite.runpytest_subprocess()
    result.assert_outcomes(passed=1, failed=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(["*skipped with CI=true: keytool missing*"])


def test_the_listed_skip_stays_a_skip_in_ci(suite, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = suite.runpytest_subprocess("test/unit/modules/test_layline_guide.py")
    result.assert_outcomes(skipped=1)


def test_outside_ci_a_skip_is_a_skip(suite, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    result = suite.runpytest_subprocess()
    result.assert_outcomes(passed=1, skipped=2, xfailed=1)


def test_the_allowed_skips_name_real_tests():
    spec = importlib.util.spec_from_file_location("suite_conftest", CONFTEST_PATH)
    suite_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite_conftest)
    ALLOWED_SKIPS = suite_conftest.ALLOWED_SKIPS  # noqa: N806
    root = Path(__file__).resolve().parents[2]
    assert ALLOWED in ALLOWED_SKIPS
    for nodeid in ALLOWED_SKIPS:
        path, name = nodeid.split("::")
        assert f"def {name}(" in (root / path).read_text(), nodeid
