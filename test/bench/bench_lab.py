#!/usr/bin/env python3
"""Benchmark of the lab: cold image build, cached build, `up --topology seed`, `down`.

Run as root: .venv/bin/python test/bench/bench_lab.py [--nodes N] [--keep-cache]
The cold build goes to a temporary cache dir (LAYLINE_LAB_CACHE), so the real cache under
/var/cache/layline-lab is left alone; up/down use that temp cache too and it is removed at the end.
Note: pip's own download cache (~/.cache/pip) is not cleared, so "cold" excludes PyPI downloads
that happened before.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]
LAB = CHECKOUT / "test" / "lab" / "lab"
TARGETS = {
    "cold image build": 300.0,
    "cached image build": 1.0,
    "up --topology seed": 60.0,
    "down": None,
}


def timed(args: list[str], env: dict[str, str]) -> float:
    start = time.monotonic()
    proc = subprocess.run(
        [str(LAB), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout)
        raise SystemExit(f"bench_lab: `lab {' '.join(args)}` failed (exit {proc.returncode})")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--keep-cache", action="store_true", help="keep the temp cache dir")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench_lab: run as root")

    cache = Path(tempfile.mkdtemp(prefix="layline-lab-bench-cache-", dir="/var/tmp"))
    pillar = Path(tempfile.mkdtemp(prefix="layline-lab-bench-pillar-"))
    (pillar / "top.sls").write_text("base: {}\n")
    env = dict(os.environ, LAYLINE_LAB_CACHE=str(cache))
    results: dict[str, float] = {}
    try:
        results["cold image build"] = timed(["image"], env)
        results["cached image build"] = timed(["image"], env)
        results["up --topology seed"] = timed(
            ["up", "--topology", "seed", "--nodes", str(args.nodes), "--pillar", str(pillar)], env
        )
        results["down"] = timed(["down"], env)
    finally:
        subprocess.run([str(LAB), "down"], env=env, stdout=subprocess.DEVNULL, check=False)
        if not args.keep_cache:
            subprocess.run(["rm", "-rf", "--one-file-system", str(cache)], check=False)
        subprocess.run(["rm", "-rf", str(pillar)], check=False)

    print(f"{'step':<22} {'seconds':>8} {'target':>8}  ok")
    for step, seconds in results.items():
        target = TARGETS[step]
        ok = "-" if target is None else ("yes" if seconds <= target else "NO")
        shown = "-" if target is None else f"<= {target:g}"
        print(f"{step:<22} {seconds:>8.1f} {shown:>8}  {ok}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
