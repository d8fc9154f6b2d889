#!/usr/bin/env python3
"""Cost of a converged `state.apply layline` against Salt's floor, in the lab. Prints a table.

    flock /run/layline-lab.lock .venv/bin/python test/bench/bench_converged.py [--runs 3]

Boots the seed topology on the bare image, syncs the modules and deploys once (not timed);
then, alternating, times `salt '*' state.apply layline` (nothing to change) and
`salt '*' state.single test.succeed_without_changes` (one state: what any state run costs on
the same minions). Reports the median of each and their ratio. The lab is taken down at the
end, also on failure. Run as root, after test/setup-host.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

from bench_rolling import sync_all  # the same retrying sync of every lab minion

CHECKOUT = Path(__file__).resolve().parents[2]
LAB = str(CHECKOUT / "test" / "lab" / "lab")
PILLAR = str(CHECKOUT / "test" / "pillar" / "seed")
MINIONS = 4


def lab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([LAB, *args], capture_output=True, text=True, timeout=1800)


def timed_salt(*args: str) -> tuple[float, dict]:
    start = time.monotonic()
    proc = lab("salt", "--out=json", "--static", "-t", "600", "*", *args)
    seconds = time.monotonic() - start
    try:
        ret = json.loads(proc.stdout)
    except ValueError as exc:
        raise SystemExit(
            f"salt {' '.join(args)}: no JSON (exit {proc.returncode})\n{proc.stdout}\n{proc.stderr}"
        ) from exc
    return seconds, ret


def check_run(ret: dict, what: str) -> tuple[int, int]:
    """(states per minion, changed) of a state run; exits when a minion failed or is missing."""
    if len(ret) != MINIONS or not all(isinstance(v, dict) for v in ret.values()):
        raise SystemExit(f"{what}: not every minion returned a state run: {str(ret)[:2000]}")
    states = [st for minion in ret.values() for st in minion.values()]
    failed = [st.get("__id__") for st in states if st.get("result") is False]
    if failed:
        raise SystemExit(f"{what}: failed states {failed}")
    return len(states) // MINIONS, sum(bool(st.get("changes")) for st in states)


def slowest_states(ret: dict, top: int = 10) -> list[tuple[str, float]]:
    """(state id, slowest duration in ms over the minions) of a state run, slowest first."""
    worst: dict[str, float] = {}
    for minion in ret.values():
        for st in minion.values():
            worst[st["__id__"]] = max(worst.get(st["__id__"], 0.0), float(st.get("duration", 0)))
    return sorted(worst.items(), key=lambda item: -item[1])[:top]


def state_time(ret: dict) -> dict[str, float]:
    """{minion: the sum of its states' durations in ms} of a state run (the rest of a run's
    wall time is rendering, the master and the transport)."""
    return {
        minion: sum(float(st.get("duration", 0)) for st in states.values())
        for minion, states in sorted(ret.items())
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (the lab needs it)")
    try:
        proc = lab("up", "--topology", "seed", "--pillar", PILLAR)
        if proc.returncode != 0:
            raise SystemExit(f"lab up failed:\n{proc.stdout}\n{proc.stderr}")
        sync_all()  # every minion answered, or exit naming those that did not
        bare_s, ret = timed_salt("state.apply", "layline")
        check_run(ret, "first apply")
        apply_times, floor_times = [], []
        for _ in range(args.runs):
            seconds, ret = timed_salt("state.apply", "layline")
            states, changed = check_run(ret, "converged apply")
            if changed:
                raise SystemExit(f"converged apply changed {changed} state(s)")
            apply_times.append(seconds)
            last_apply = ret
            seconds, ret = timed_salt("state.single", "test.succeed_without_changes", "name=floor")
            check_run(ret, "floor")
            floor_times.append(seconds)
    finally:
        lab("down")
    apply_s, floor_s = statistics.median(apply_times), statistics.median(floor_times)
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Linux {platform.release()}; seed topology, {MINIONS} minions, median of {args.runs}"
    )
    print(f"{'run':<52} {'median s':>9}  all runs")
    print(
        f"{'converged state.apply layline (' + str(states) + ' states/minion)':<52} "
        f"{apply_s:>9.2f}  {', '.join(f'{t:.2f}' for t in apply_times)}"
    )
    print(
        f"{'state.single test.succeed_without_changes (floor)':<52} "
        f"{floor_s:>9.2f}  {', '.join(f'{t:.2f}' for t in floor_times)}"
    )
    print(f"{'ratio apply / floor':<52} {apply_s / floor_s:>9.2f}")
    print(f"{'bare -> both engines Up (first state.apply)':<52} {bare_s:>9.2f}")
    print("slowest states of the last converged run (ms, slowest minion):")
    for state_id, ms in slowest_states(last_apply):
        print(f"  {state_id:<58} {ms:>8.0f}")
    print("sum of the state durations per minion, last converged run (ms):")
    for minion, ms in state_time(last_apply).items():
        print(f"  {minion:<58} {ms:>8.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
