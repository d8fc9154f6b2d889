"""
testinfra checks of a deployed machine (kitchen verifier, lab).

They need a target: ``pytest test/verify --hosts=ssh://...`` (kitchen) or
``--hosts=local://`` on the machine itself. Without ``--hosts`` (the plain
``pytest`` run of the repository) they are skipped: the CI host is no
deployed layline machine.
"""

import pytest


def pytest_addoption(parser):
    parser.addoption(
        "--layline-scenario",
        default="default",
        help="kitchen suite / test pillar the target was deployed with (default, cluster)",
    )


@pytest.fixture
def scenario(request):
    return request.config.getoption("--layline-scenario")


@pytest.fixture(autouse=True)
def _needs_a_target(request):
    if not request.config.getoption("hosts", None):
        pytest.skip("testinfra checks need a deployed target: pytest test/verify --hosts=...")
