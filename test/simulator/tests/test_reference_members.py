"""The simulator's Pekko Management /cluster/members against Pekko Management's own format.

Reference: test/fixtures/pekko-management/cluster-members.json (the JSON formats of
ClusterHttpManagementProtocol.scala and the example of ClusterHttpManagementRoutesSpec,
apache/pekko-management v1.1.1). Same keys, same types, Pekko's member statuses.
"""

import json
import pathlib
import signal
from urllib.parse import quote

from simsupport import MGMT, address, all_up, host, http_get, members, wait_for

REFERENCE = json.loads(
    (
        pathlib.Path(__file__).resolve().parents[2]
        / "fixtures"
        / "pekko-management"
        / "cluster-members.json"
    ).read_text()
)
TYPES = REFERENCE["types"]


def _problems(value, kind, where="$"):
    """What in ``value`` does not match the reference type ``kind`` (empty: conforms)."""
    kind = kind.removeprefix("optional ")
    if kind == "string":
        return [] if isinstance(value, str) else [f"{where}: {value!r} is not a string"]
    if kind.startswith(("array of ", "object of ")):
        inner = kind.split(" of ", 1)[1]
        if kind.startswith("array") and not isinstance(value, list):
            return [f"{where}: {value!r} is not an array"]
        if kind.startswith("object") and not isinstance(value, dict):
            return [f"{where}: {value!r} is not an object"]
        items = value.items() if isinstance(value, dict) else enumerate(value)
        return [p for key, item in items for p in _problems(item, inner, f"{where}[{key!r}]")]
    fields = TYPES[kind]
    if not isinstance(value, dict):
        return [f"{where}: {value!r} is not a {kind} object"]
    problems = [f"{where}.{key}: not in Pekko's {kind}" for key in value if key not in fields]
    for key, field_kind in fields.items():
        if key in value:
            problems += _problems(value[key], field_kind, f"{where}.{key}")
        elif not field_kind.startswith("optional "):
            problems.append(f"{where}.{key}: missing (Pekko's {kind} always has it)")
    return problems


def _statuses(doc):
    return {m["status"] for m in doc["members"]}


def test_reference_example_conforms_and_the_check_can_fail():
    example = REFERENCE["example"]
    assert _problems(example, "ClusterMembers") == []
    broken = json.loads(json.dumps(example))
    broken["members"][0]["nodeUid"] = 1
    broken["unreachable"][0].pop("observedBy")
    broken["extra"] = True
    assert len(_problems(broken, "ClusterMembers")) == 3


def test_simulator_members_document_has_pekkos_shape(lab):
    procs = [lab.engine(i, provider="") for i in (1, 2)]
    wait_for(lambda: all_up((1, 2), among=(1, 2)), what="cluster")
    healthy = wait_for(lambda: members(1), what="node 1's members document")
    assert _problems(healthy, "ClusterMembers") == [], healthy
    assert {"leader", "oldest"} <= set(healthy), healthy
    # one member lost: the unreachable entries too
    procs[1].kill(signal.SIGKILL)
    wait_for(lambda: (members(1) or {}).get("unreachable"), timeout=15, what="unreachable")
    degraded = members(1)
    assert _problems(degraded, "ClusterMembers") == [], degraded
    assert _statuses(degraded) <= set(REFERENCE["statuses"]), degraded
    assert all(m["nodeUid"].lstrip("-").isdigit() for m in degraded["members"]), degraded
    # GET /cluster/members/{address}: one ClusterMember
    status, body = http_get(f"http://{host(1)}:{MGMT}/cluster/members/{quote(address(1))}")
    assert status == 200, body
    assert _problems(json.loads(body), "ClusterMember") == [], body
