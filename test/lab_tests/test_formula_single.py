"""The empty-pillar default on one real systemd machine: config server + one engine on H2.

Scenario test/pillar/single sets nothing but the (simulator) distribution. The tests run in
file order on one machine: a bad pillar on the bare machine, the first apply, a second apply
without changes, then a bad pillar over the deployed machine.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from formula import (
    apply,
    assert_applied,
    changed,
    failures,
    files_changed_since_marker,
    http_get,
    lab_host,
    make_marker,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "verify"))
import checks  # noqa: E402  (test/verify: the same checks test-kitchen's verifier runs)

pytestmark = pytest.mark.lab

CHECKOUT = Path(__file__).resolve().parents[2]
MINION = "ll-single"
# Two problems at once: validation must report both, each naming its pillar key.
BAD_PILLAR = 'pillar={"layline": {"ports": {"rest": 70000}, "user": "root"}}'


@pytest.fixture(scope="module")
def single(lab):
    try:
        lab.up("single", pillar=CHECKOUT / "test" / "pillar" / "single")
        sync = lab.salt(MINION, "saltutil.sync_all")
        assert "layline" in json.dumps(sync[MINION]), sync
        yield lab
    finally:
        lab.down()


def _bad_apply_changes_nothing(lab):
    marker = make_marker(lab, MINION)
    ret = apply(lab, MINION, BAD_PILLAR)
    comments = "\n".join(failures(ret).get(MINION, []))
    assert "layline:ports:rest" in comments, comments
    assert "layline:user" in comments, comments
    # failhard on validation: no other state of the formula ran.
    ran = [
        sid
        for sid, st in ret[MINION].items()
        if isinstance(st, dict)
        and "validate" not in sid
        and st.get("__run_num__") is not None
        and st.get("result") is not False
    ]
    assert not changed(ret), changed(ret)
    assert not ran or all(ret[MINION][sid].get("result") is not True for sid in ran), ran
    assert files_changed_since_marker(lab, MINION, marker) == []


def test_bad_pillar_on_bare_machine_changes_nothing(single):
    _bad_apply_changes_nothing(single)
    assert single.shell(MINION, "id layline").returncode != 0, "service user was created"
    assert single.shell(MINION, "test -e /opt/layline").returncode != 0


def test_first_apply_deploys_single_host(single):
    ret = apply(single, MINION)
    assert_applied(ret, [MINION])

    # Config server: layline's default binds 127.0.0.1:5841 and serves the login page.
    # (services start in the background: allow the simulated JVM start-up)
    status, body = single.wait_for(
        lambda: (r := http_get(single, MINION, "http://127.0.0.1:5841/"))[0] == 200 and r,
        timeout=60,
        what="config server answering on 127.0.0.1:5841",
    )
    assert "login" in body.lower(), body[:300]

    # The engine is a one-member cluster, Up, seen through the management API.
    def members():
        code, text = http_get(single, MINION, "http://127.0.0.1:8558/cluster/members")
        return json.loads(text) if code == 200 else None

    view = single.wait_for(
        lambda: (m := members()) and m["members"] and m["members"][0]["status"] == "Up" and m,
        timeout=120,
        what="engine Up in /cluster/members",
    )
    assert len(view["members"]) == 1 and view["unreachable"] == []
    log = single.shell(
        MINION, "cat /var/lib/layline/.layline/reactive-engine/log/reactive-engine.log"
    ).stdout
    assert "[LAY-11001] cluster successfully joined" in log

    # And through the formula's own reader, as an operator would call it.
    health = single.salt(MINION, "layline.cluster_health")[MINION]
    assert health["healthy"] is True, health


def test_second_apply_reports_no_changes(single):
    ret = apply(single, MINION)
    assert_applied(ret, [MINION])
    assert changed(ret) == {}, changed(ret)


def test_verifier_checks_pass_on_lab_machine(single):
    checks.check_single_host(lab_host(MINION))


def test_bad_pillar_over_deployment_changes_nothing(single):
    _bad_apply_changes_nothing(single)
    assert (
        single.shell(
            MINION, "systemctl is-active layline-reactive-engine layline-config-server"
        ).returncode
        == 0
    )


def test_allinone_on_the_same_machine_passes_the_verifier(single):
    """test/verify's all-in-one check (kitchen's `cluster` suite) in the lab: the machine
    turned into database + config server + engine on MySQL with the allinone pillar."""
    allinone = (CHECKOUT / "test" / "pillar" / "allinone" / "layline.sls").read_text()
    pillar = yaml.safe_load(allinone.replace("layline-allinone", MINION))
    ret = apply(single, MINION, f"pillar={json.dumps(pillar)}")
    assert_applied(ret, [MINION])
    checks.check_allinone_host(lab_host(MINION))
