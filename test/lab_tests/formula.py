"""Helpers for lab tests of the formula: apply it and read what the state run says."""

from __future__ import annotations

import json
import urllib.request

# Where the formula writes on a minion; salt's own cache and config are not ours.
FORMULA_PATHS = "/opt/layline /var/lib/layline /var/cache/layline /etc/systemd/system /etc/mysql"


def apply(lab, target: str, *args: str, timeout: int = 900) -> dict:
    """state.apply layline on target; returns {minion: {state_id: result}} (or error lists)."""
    return lab.salt(target, "state.apply", "layline", *args, timeout=timeout)


def failures(ret: dict) -> dict:
    """{minion: [comments of failed states]}; a render error (a list of strings) is a failure."""
    out: dict[str, list[str]] = {}
    for minion, states in ret.items():
        if not isinstance(states, dict):
            out[minion] = [str(states)]
            continue
        bad = [
            f"{sid}: {st.get('comment')}"
            for sid, st in states.items()
            if isinstance(st, dict) and st.get("result") is False
        ]
        if bad:
            out[minion] = bad
    return out


def changed(ret: dict) -> dict:
    """{minion: [state ids that reported changes]}."""
    out: dict[str, list[str]] = {}
    for minion, states in ret.items():
        if isinstance(states, dict):
            ids = [sid for sid, st in states.items() if isinstance(st, dict) and st.get("changes")]
            if ids:
                out[minion] = ids
    return out


def assert_applied(ret: dict, minions: list[str]) -> None:
    """Every minion answered with a state run in which nothing failed."""
    missing = [m for m in minions if not isinstance(ret.get(m), dict)]
    assert not missing, f"no state run from {missing}: {json.dumps(ret, indent=1)[:4000]}"
    assert not failures(ret), json.dumps(failures(ret), indent=1)


def http_get(lab, machine: str, url: str, auth: str | None = None) -> tuple[int, str]:
    """GET url from inside machine with curl; returns (status, body)."""
    user = f"-u '{auth}' " if auth else ""
    proc = lab.shell(machine, f"curl -s -m 5 {user}-w '\\n%{{http_code}}' '{url}'")
    body, _, status = proc.stdout.rpartition("\n")
    return int(status or 0), body


def prometheus_api(lab, machine: str, path: str) -> dict:
    """`data` of the real Prometheus' HTTP API on machine (port 9090), asked from the host."""
    url = f"http://{lab.address(machine)}:9090/api/v1/{path}"
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 (lab address)
        reply = json.loads(answer.read())
    assert reply["status"] == "success", reply
    return reply["data"]


def prometheus_targets(lab, machine: str, job: str) -> dict[str, str]:
    """minion label -> health of job's active targets ({} while Prometheus does not answer)."""
    try:
        targets = prometheus_api(lab, machine, "targets?state=active")["activeTargets"]
    except OSError:
        return {}
    return {t["labels"]["minion"]: t["health"] for t in targets if t["labels"]["job"] == job}


def files_changed_since_marker(lab, machine: str, marker: str) -> list[str]:
    """Regular files under the formula's paths newer than marker (a file made before)."""
    proc = lab.shell(
        machine,
        f"find {FORMULA_PATHS} -xdev -newer {marker} \\( -type f -o -type d \\) 2>/dev/null",
    )
    return [line for line in proc.stdout.splitlines() if line.strip()]


def make_marker(lab, machine: str, path: str = "/root/.layline-test-marker") -> str:
    # Whole-second mtimes on some file systems: leave a second between marker and change.
    lab.shell(machine, f"touch {path} && sleep 1.1", check=True)
    return path


def lab_host(machine: str):
    """A testinfra Host whose commands run inside a lab machine (via `lab shell`).

    It lets the lab run the very checks of test/verify that test-kitchen's verifier runs.
    """
    import subprocess
    from pathlib import Path

    import testinfra.host
    from testinfra.backend.base import BaseBackend

    lab_cmd = str(Path(__file__).resolve().parents[1] / "lab" / "lab")

    class LabBackend(BaseBackend):
        NAME = "layline-lab"

        def run(self, command, *args, **kwargs):
            cmd = self.get_command(command, *args)
            proc = subprocess.run(
                [lab_cmd, "shell", machine, "sh", "-c", cmd], capture_output=True, timeout=120
            )
            return self.result(proc.returncode, self.encode(cmd), proc.stdout, proc.stderr)

    return testinfra.host.Host(LabBackend(machine))
