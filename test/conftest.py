"""Rules for the whole suite.

With ``CI=true`` a skipped test is a failure: a missing tool (root, MariaDB, keytool, nspawn) must
not empty a suite silently. The skips that are acceptable in CI are listed here, by test, with why.
"""

import os

import pytest

# test (node id without parameters) -> why a skip of it is acceptable in CI
ALLOWED_SKIPS = {
    "test/unit/test_layline_guide.py::test_fixtures_are_the_guides_text_verbatim": (
        "compares test/fixtures/layline-guide with the guide beside the checkout, which a CI "
        "clone does not have; the fixtures themselves are tested everywhere"
    ),
}


def _in_ci():
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail") or not _in_ci():
        return
    if item.nodeid.split("[", 1)[0] in ALLOWED_SKIPS:
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    report.outcome = "failed"
    report.longrepr = (
        f"skipped with CI=true: {reason}\n"
        "(a skip in CI is a failure; list it in test/conftest.py ALLOWED_SKIPS with a reason "
        "if it must stay)"
    )
