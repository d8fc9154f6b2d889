"""Helpers shared by the image builder and the machine manager."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

# Paths from the lab contract; the cache can be moved (the benchmark builds cold into a temp dir).
STATE_DIR = Path(os.environ.get("LAYLINE_LAB_STATE", "/var/lib/layline-lab"))
CACHE_DIR = Path(os.environ.get("LAYLINE_LAB_CACHE", "/var/cache/layline-lab"))
CHECKOUT = Path(__file__).resolve().parents[3]  # test/lab/lablib/util.py -> checkout root
VENV_BIN = CHECKOUT / ".venv" / "bin"


class LabError(Exception):
    """An error with a message meant for the user (printed without a traceback)."""


def log(msg: str) -> None:
    print(f"lab: {msg}", file=sys.stderr, flush=True)


def run(
    cmd: list[str], *, check: bool = True, quiet: bool = False, **kw
) -> subprocess.CompletedProcess:
    """Run a command; on failure raise LabError with the command and its output tail."""
    if quiet:
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.STDOUT)
        kw.setdefault("text", True)
    proc = subprocess.run(cmd, **kw)
    if check and proc.returncode != 0:
        out = proc.stdout if isinstance(proc.stdout, str) else ""
        tail = "\n".join(out.splitlines()[-30:])
        raise LabError(f"command failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}".rstrip())
    return proc


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (debootstrap, systemd-nspawn, bridges)")


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below path, deepest first (so they can be unmounted in order)."""
    prefix = str(path).rstrip("/")
    found = []
    with open("/proc/mounts") as fh:
        for line in fh:
            point = line.split()[1].encode().decode("unicode_escape")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return sorted(set(found), key=len, reverse=True)


def unmount_under(path: Path) -> None:
    for point in mounts_under(path):
        # Lazy: a killed debootstrap/nspawn may leave busy mounts; detach them anyway.
        run(["umount", "-l", point], check=False, quiet=True)


def remove_tree(path: Path) -> None:
    """rm -rf that never crosses into a mount left behind (e.g. /proc from a killed debootstrap)."""
    if not path.exists() and not path.is_symlink():
        return
    unmount_under(path)
    if mounts_under(path):
        raise LabError(f"cannot unmount everything under {path}: {mounts_under(path)}")
    run(["rm", "-rf", "--one-file-system", str(path)], quiet=True)
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)


MASTER_HINT = "run `test/lab/lab up --topology seed|single --pillar DIR` first"
