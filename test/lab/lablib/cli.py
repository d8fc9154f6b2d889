"""Command line of the lab: `test/lab/lab COMMAND ...` (see `test/lab/lab --help`)."""

from __future__ import annotations

import argparse
import os
import sys

from . import image, machines
from .util import MASTER_HINT, LabError, require_root


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lab",
        description="layline lab: systemd-nspawn machines on bridge llbr0 "
        "(10.231.7.0/24) with a salt-master on the host (10.231.7.1). Run as root.",
    )
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    s = sub.add_parser("image", help="build the base image (or report the cached one)")
    s.add_argument("--force", action="store_true", help="rebuild even when cached")
    s = sub.add_parser("up", help="boot a topology and start the salt-master")
    s.add_argument("--topology", choices=["seed", "single"], required=True)
    s.add_argument("--nodes", type=int, default=2, help="engine nodes of `seed` (default 2)")
    s.add_argument("--pillar", required=True, help="pillar root dir (with top.sls)")
    sub.add_parser("down", help="stop and remove everything the lab started (idempotent)")
    s = sub.add_parser(
        "add",
        help="boot one more machine into the running lab (next free "
        "address, /etc/hosts everywhere, minion key accepted)",
    )
    s.add_argument("machine")
    s = sub.add_parser(
        "remove",
        help="power a machine off and remove it (upper dir, minion key, /etc/hosts entries)",
    )
    s.add_argument("machine")
    sub.add_parser("status", help="show machines and their state")
    for name, what in (("salt", "salt"), ("run", "salt-run")):
        s = sub.add_parser(name, help=f"{what} against the lab master (args pass through)")
        s.add_argument("args", nargs=argparse.REMAINDER)
    s = sub.add_parser("shell", help="run a command (default bash) inside a machine")
    s.add_argument("machine")
    s.add_argument("command", nargs=argparse.REMAINDER)
    for name, what in (
        ("stop", "hard power-off (like a crash)"),
        ("start", "boot again"),
        ("cut", "take the machine's network link down"),
        ("heal", "bring the machine's network link back"),
    ):
        s = sub.add_parser(name, help=what)
        s.add_argument("machine")
        if name == "start":
            s.add_argument("--no-wait", action="store_true", help="do not wait for test.ping")
    return p


def _parse(argv: list[str]) -> argparse.Namespace:
    # argparse.REMAINDER drops leading options (`lab salt --out=json '*' ...`): pass-through
    # commands are split by hand; argparse still serves their --help.
    if len(argv) >= 1 and argv[0] in ("salt", "run") and argv[1:2] not in (["-h"], ["--help"]):
        return argparse.Namespace(cmd=argv[0], args=argv[1:])
    if len(argv) >= 2 and argv[0] == "shell" and not argv[1].startswith("-"):
        return argparse.Namespace(cmd="shell", machine=argv[1], command=argv[2:])
    return _parser().parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    try:
        require_root()
        if args.cmd == "image":
            return image.main_image(args)
        if args.cmd == "up":
            machines.up(args.topology, args.nodes, args.pillar)
            print(machines.status())
        elif args.cmd == "down":
            machines.down()
        elif args.cmd == "add":
            machines.add(args.machine)
            print(machines.status())
        elif args.cmd == "remove":
            machines.remove(args.machine)
        elif args.cmd == "status":
            print(machines.status())
        elif args.cmd in ("salt", "run"):
            if machines.load_state() is None:
                raise LabError("the lab is not up: " + MASTER_HINT)
            tool = machines.venv_tool("salt" if args.cmd == "salt" else "salt-run")
            sys.stdout.flush()
            argv_ = [tool, "-c", str(machines.MASTER_CONF_DIR), *args.args]
            os.execv(tool, argv_)  # noqa: S606 -- replaces this process, args pass through
        elif args.cmd == "shell":
            argv_, env = machines.shell_argv(args.machine, args.command)
            sys.stdout.flush()
            # exec: the exit code of the command passes through.
            os.execvpe(argv_[0], argv_, env)  # noqa: S606
        elif args.cmd == "stop":
            machines.stop(args.machine)
        elif args.cmd == "start":
            machines.start(args.machine, wait=not args.no_wait)
        elif args.cmd in ("cut", "heal"):
            machines.set_link(args.machine, up_=args.cmd == "heal")
    except LabError as exc:
        print(f"lab: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lab: interrupted (run `lab down` to clean up)", file=sys.stderr)
        return 130
    return 0
