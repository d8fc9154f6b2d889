#!/usr/bin/env python3
"""Efficiency of `salt-run state.orch layline.rolling` in the lab. Prints a table (not a test).

    flock /run/layline-lab.lock .venv/bin/python test/bench/bench_rolling.py

For N = 3 and N = 5 engines (seed topology with five engine machines, keep-majority,
min_nr_of_members 2; first the pillar lists three engines, then five), restarts all
engines (`layline:rolling:all`) with max_unavailable 1, and for N = 5 also with 2. Per run:
- wall: the orchestration's wall time (salt-run start to exit);
- sum node: the sum over nodes of each node's own stop-to-Up time, from the engine logs
  ("received SIGTERM" to "[LAY-11001] cluster successfully joined");
- efficiency: sum node / wall (with max_unavailable k the ideal is k);
- overhead/node: (wall - the sum over waves of the wave's longest stop-to-Up) / N, the
  seconds the orchestration adds per node (rendering, planning, polling, salt calls).
The lab is taken down at the end, also on failure. Run as root, after test/setup-host.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

CHECKOUT = Path(__file__).resolve().parents[2]
LAB = str(CHECKOUT / "test" / "lab" / "lab")
SEED3 = CHECKOUT / "test" / "pillar" / "seed3"
ENGINE_LOG = "/var/lib/layline/.layline/reactive-engine/log/reactive-engine.log"
STOP = "received SIGTERM"
UP = "[LAY-11001] cluster successfully joined"
# nodes stopped within this many seconds of each other were one wave
WAVE_GAP = 2.0


def lab(*args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    return subprocess.run([LAB, *args], capture_output=True, text=True, timeout=timeout)


def checked(*args: str) -> subprocess.CompletedProcess:
    proc = lab(*args)
    if proc.returncode != 0:
        raise SystemExit(f"lab {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def write_pillar(nodes: int, target: Path) -> None:
    data = yaml.safe_load((SEED3 / "layline.sls").read_text())
    data["layline"]["cluster"]["nodes"] = [
        {"minion": f"ll-node-{i}", "hostname": f"ll-node-{i}.orb.local"}
        for i in range(1, nodes + 1)
    ]
    (target / "top.sls").write_text((SEED3 / "top.sls").read_text())
    (target / "layline.sls").write_text(yaml.safe_dump(data))


def log_time(line: str) -> datetime.datetime:
    return datetime.datetime.strptime(line[:21], "%y-%m-%d %H:%M:%S.%f")


def log_lengths(engines: list[str]) -> dict[str, int]:
    return {e: int(checked("shell", e, "wc", "-l", ENGINE_LOG).stdout.split()[0]) for e in engines}


def stop_to_up(engines: list[str], since: dict[str, int]) -> dict[str, tuple]:
    """{engine: (stop time, seconds from stop to Up)} from the log lines after ``since``."""
    found = {}
    for engine in engines:
        text = checked("shell", engine, "tail", "-n", f"+{since[engine] + 1}", ENGINE_LOG).stdout
        stop = up = None
        for line in text.splitlines():
            if STOP in line and stop is None:
                stop = log_time(line)
            elif UP in line and stop is not None and up is None:
                up = log_time(line)
        if stop is None or up is None:
            raise SystemExit(f"{engine}: no stop/Up pair in its log after the roll:\n{text}")
        found[engine] = (stop, (up - stop).total_seconds())
    return found


def waves_of(found: dict[str, tuple]) -> list[list[float]]:
    waves, last = [], None
    for stop, seconds in sorted(found.values()):
        if last is None or (stop - last).total_seconds() > WAVE_GAP:
            waves.append([])
        waves[-1].append(seconds)
        last = stop
    return waves


def roll(engines: list[str], max_unavailable: int) -> dict:
    since = log_lengths(engines)
    pillar = (
        'pillar={"layline": {"rolling": {"all": true, "max_unavailable": '
        f"{max_unavailable}}}}}}}"
    )
    start = time.monotonic()
    proc = lab("run", "state.orch", "layline.rolling", pillar)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"the rolling restart failed:\n{proc.stdout}\n{proc.stderr}")
    found = stop_to_up(engines, since)
    total = sum(seconds for _stop, seconds in found.values())
    critical = sum(max(wave) for wave in waves_of(found))
    return {
        "wall": wall,
        "sum": total,
        "efficiency": total / wall,
        "overhead": (wall - critical) / len(engines),
        "waves": len(waves_of(found)),
    }


def first_failures(text: str) -> list[str]:
    """Per minion, the first failed state (in run order) that failed by itself, not for a
    failed requisite, from ``salt --out=json --static`` output: what to fix first."""
    try:
        answers = json.loads(text)
    except ValueError:
        return ["(the output is not JSON; its tail:)\n" + text[-3000:]]
    found = []
    for minion, states in sorted(answers.items()):
        if not isinstance(states, dict):
            found.append(f"{minion}: {states}")
            continue
        failed = sorted(
            (
                state
                for state in states.values()
                if isinstance(state, dict) and state.get("result") is False
            ),
            key=lambda state: state.get("__run_num__", 0),
        )
        own = [s for s in failed if not str(s.get("comment", "")).startswith("One or more")]
        for state in own[:1] or failed[:1]:
            found.append(
                f"{minion}: {len(failed)} failed; first: {state.get('__id__')} "
                f"({state.get('name')}): {state.get('comment')}"
            )
    return found


def converge(nodes: int) -> list[str]:
    """state.apply everywhere, then wait until the N engines are Up."""
    checked("salt", "*", "saltutil.refresh_pillar")
    proc = lab("salt", "-t", "900", "--out=json", "--static", "*", "state.apply", "layline")
    if proc.returncode != 0:
        raise SystemExit(
            "state.apply failed:\n" + "\n".join(first_failures(proc.stdout)) + "\n" + proc.stderr
        )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        health = lab("salt", "--out=json", "ll-config-server", "layline.cluster_health").stdout
        if '"healthy": true' in health:
            return [f"ll-node-{i}" for i in range(1, nodes + 1)]
        time.sleep(3)
    raise SystemExit(f"the cluster of {nodes} did not become healthy")


def main() -> None:
    if os.geteuid() != 0:
        raise SystemExit("run as root (the lab needs it)")
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(
        f"{'N':>2} {'max_unavail':>11} {'waves':>5} {'wall s':>7} {'sum node s':>10} "
        f"{'efficiency':>10} {'overhead/node s':>15}",
        flush=True,
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            # one lab of five engine machines: first a cluster of three, then all five
            pillar = Path(tmp)
            write_pillar(3, pillar)
            checked("up", "--topology", "seed", "--nodes", "5", "--pillar", str(pillar))
            checked("salt", "*", "saltutil.sync_all")
            for nodes, sizes in ((3, (1,)), (5, (1, 2))):
                write_pillar(nodes, pillar)
                engines = converge(nodes)
                for size in sizes:
                    row = roll(engines, size)
                    print(
                        f"{nodes:>2} {size:>11} {row['waves']:>5} {row['wall']:>7.1f} "
                        f"{row['sum']:>10.1f} {row['efficiency']:>10.2f} "
                        f"{row['overhead']:>15.2f}",
                        flush=True,
                    )
    finally:
        lab("down")


if __name__ == "__main__":
    main()
