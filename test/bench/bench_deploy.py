#!/usr/bin/env python3
"""Wall time of deploying the seed topology with the formula, in the lab. Prints a table.

    .venv/bin/python test/bench/bench_deploy.py [--nodes 2]

Boots fresh machines (`lab up --topology seed`), then times:
- `salt '*' state.apply layline` on four bare machines (MariaDB install, schema, engines);
- the same command again, with nothing to change;
- `salt-run state.orch layline.orch.deploy` on freshly booted machines.
The lab is taken down at the end, also on failure. Run as root, after test/setup-host.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

from bench_rolling import sync_all  # the same retrying sync of every lab minion

CHECKOUT = Path(__file__).resolve().parents[2]
LAB = str(CHECKOUT / "test" / "lab" / "lab")
PILLAR = str(CHECKOUT / "test" / "pillar" / "seed")


def lab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([LAB, *args], capture_output=True, text=True, timeout=1800)


def timed(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    start = time.monotonic()
    proc = lab(*args)
    return time.monotonic() - start, proc


def state_summary(proc: subprocess.CompletedProcess) -> str:
    """'N states, M changed, K failed' from a --out=json --static state run."""
    try:
        ret = json.loads(proc.stdout)
    except ValueError:
        return f"no JSON (exit {proc.returncode})"
    kind = "states"
    if "data" in ret:  # an orchestration: {"data": {"<master id>": {step: result}}}
        ret, kind = ret["data"], "orchestration steps"
    states = [
        st
        for minion in ret.values()
        if isinstance(minion, dict)
        for st in minion.values()
        if isinstance(st, dict)
    ]
    failed = sum(st.get("result") is False for st in states)
    changed = sum(bool(st.get("changes")) for st in states)
    return f"{len(states)} {kind}, {changed} changed, {failed} failed"


def boot(nodes: int) -> float:
    seconds, proc = timed("up", "--topology", "seed", "--nodes", str(nodes), "--pillar", PILLAR)
    if proc.returncode != 0:
        raise SystemExit(f"lab up failed:\n{proc.stdout}\n{proc.stderr}")
    sync_all()  # every minion answered, or exit naming those that did not
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=2)
    nodes = parser.parse_args().nodes
    rows = []
    try:
        rows.append(("lab up --topology seed", boot(nodes), "-"))
        apply = ("salt", "*", "state.apply", "layline", "--out=json", "--static", "-t", "900")
        seconds, proc = timed(*apply)
        rows.append(("bare -> both engines Up (state.apply)", seconds, state_summary(proc)))
        seconds, proc = timed(*apply)
        rows.append(("state.apply layline (no change)", seconds, state_summary(proc)))
        lab("down")
        rows.append(("lab up --topology seed (again)", boot(nodes), "-"))
        seconds, proc = timed("run", "state.orch", "layline.orch.deploy", "--out=json")
        rows.append(("state.orch layline.orch.deploy", seconds, state_summary(proc)))
    finally:
        lab("down")

    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores; "
        f"topology seed with {nodes} engine nodes; simulator start-up delay 2 s"
    )
    print(f"{'step':40} {'seconds':>8}  result")
    for step, seconds, result in rows:
        print(f"{step:40} {seconds:8.1f}  {result}")


if __name__ == "__main__":
    main()
