"""
No ``unless``/``onlyif``/``creates`` on the converged path of ``state.apply layline``.

The first such check in a run makes Salt look up ``<module>.mod_run_check``, which loads
every state and execution module: 3-4 s on a loaded minion, the largest cost a converged
run had (docs/design.md, "Converged apply"). Each one the formula keeps is listed here
with why a converged run never evaluates it; a new one fails this test until it is
listed, or better, decided while the SLS renders.
"""

import pathlib
import re

TOP = pathlib.Path(__file__).resolve().parents[2]
RUN_CHECK_RE = re.compile(r"^\s*- (unless|onlyif|creates):")
STATE_ID_RE = re.compile(r"^([A-Za-z0-9][^\s:]*):\s*$")

# (SLS file, state ID) -> why a converged run does not evaluate the check
ALLOWED = {
    ("layline/python/init.sls", "layline-python-pip-installed"): (
        "rendered only when layline.python_ready says a pin is missing"
    ),
    ("layline/service/engine.sls", "layline-service-layline-restart_pending"): (
        "behind onchanges: Salt evaluates it only when the install or config changed"
    ),
    ("layline/tls/init.sls", "layline-tls-layline_tls-certificate_managed"): (
        "rendered only under test=True (a bare minion has no CA certificate yet)"
    ),
    ("layline/firewall/clean.sls", "layline-firewall-clean-cmd-run-delete-table"): (
        "layline.clean, not the converged apply"
    ),
}


def run_checks(sls_text):
    """[(state ID, check)] of every unless/onlyif/creates in an SLS text."""
    found, state_id = [], None
    for line in sls_text.splitlines():
        match = STATE_ID_RE.match(line)
        if match:
            state_id = match.group(1)
        check = RUN_CHECK_RE.match(line)
        if check:
            found.append((state_id, check.group(1)))
    return found


def test_run_checks_are_found_under_their_state_id():
    text = "a-state:\n  cmd.run:\n    - unless: true\nb-state:\n  file.managed:\n    - onlyif:\n"
    assert run_checks(text) == [("a-state", "unless"), ("b-state", "onlyif")]


def test_no_run_check_on_the_converged_path_that_is_not_listed():
    found = {}
    for sls in sorted((TOP / "layline").rglob("*.sls")):
        name = str(sls.relative_to(TOP))
        for state_id, check in run_checks(sls.read_text()):
            found[(name, state_id)] = check
    unlisted = sorted(key for key in found if key not in ALLOWED)
    assert not unlisted, (
        f"unless/onlyif/creates in {unlisted}: each costs a full module load on a converged "
        "run; decide it while the SLS renders, or list it in ALLOWED with why it never runs"
    )
    # an entry whose state lost its check is stale: the list says what is true
    assert sorted(ALLOWED) == sorted(found)
