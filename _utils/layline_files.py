"""
The one hardened file writer of the layline formula, and the restart marker's
read/write/clear.

Root never writes through a path another user controls: :py:func:`open_dir` opens every
directory component with ``O_NOFOLLOW`` relative to its parent, :py:func:`write_at`
creates the file under a temporary name with its final owner and mode (never wider
than asked) and renames it into place within the same directory. Pure Python (no
``__salt__``): the execution and state modules import it.

Public functions: ``open_dir``, ``read_current``, ``write_at``, ``write_file``,
``read_bounded``, ``marker_path``, ``read_marker``, ``list_markers``, ``write_marker``,
``clear_marker``.
"""

import contextlib
import json
import os
import re
import stat
import uuid

from salt.exceptions import CommandExecutionError

import layline_schema

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
UNIT_RE = re.compile(r"^layline-[a-z-]+$")


def _follow_root_link(dir_fd, part):
    """Open ``part`` through a symlink only when root owns the link and its directory."""
    link = os.stat(part, dir_fd=dir_fd, follow_symlinks=False)
    parent = os.fstat(dir_fd)
    safe = (
        stat.S_ISLNK(link.st_mode)
        and link.st_uid == 0
        and parent.st_uid == 0
        and not parent.st_mode & 0o022
    )
    if not safe:
        return None
    return os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dir_fd)


def open_dir(path, create=None):
    """
    A file descriptor of directory ``path``, opened one component at a time with
    ``O_NOFOLLOW`` relative to its parent: a symlink planted by another user is never
    followed. ``create=(uid, gid, mode)`` creates missing components with that owner.
    """
    parts = [part for part in path.split("/") if part]
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for index, part in enumerate(parts):
            where = "/" + "/".join(parts[: index + 1])
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if create is None:
                    raise CommandExecutionError(f"directory {where} does not exist") from None
                os.mkdir(part, 0o700, dir_fd=fd)
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.fchown(child, create[0], create[1])
                os.fchmod(child, create[2])
            except OSError:  # ELOOP / ENOTDIR: a symlink or not a directory
                child = _follow_root_link(fd, part)
                if child is None:
                    raise CommandExecutionError(
                        f"{where} is a symbolic link or not a directory: refusing to write "
                        "through it (a link there can point root's write anywhere)"
                    ) from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_current(dir_fd, name):
    """(bytes, uid, gid, mode) of regular file ``name`` in ``dir_fd``; None if absent or
    not a regular file (a planted link or fifo is replaced, never read through)."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    with os.fdopen(fd, "rb") as current:
        info = os.fstat(current.fileno())
        return current.read(), info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)


def write_at(dir_fd, name, data, uid, gid, mode):
    """
    Create ``name`` in ``dir_fd`` with its final owner (``-1`` keeps the writer's) and
    mode, then rename it in. ``data`` is bytes.
    """
    tmp = f".{name}.{uuid.uuid4().hex[:12]}.tmp"
    fd = os.open(
        tmp,
        os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
        mode & 0o600,
        dir_fd=dir_fd,
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchown(handle.fileno(), uid, gid)
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise


def write_file(path, data, uid=-1, gid=-1, mode=0o644, create=None):
    """
    Write ``data`` (bytes or str) to ``path`` through :py:func:`open_dir` and
    :py:func:`write_at`; ``create`` as in :py:func:`open_dir`.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    directory, base = os.path.split(path)
    dir_fd = open_dir(directory or ".", create=create)
    try:
        write_at(dir_fd, base, data, uid, gid, mode)
    finally:
        os.close(dir_fd)


def _root_only(info):
    return info.st_uid == 0 and not info.st_mode & 0o022


def read_bounded(path, limit=1 << 20, root_only=False):
    """
    The bytes of regular file ``path``, opened with ``O_NOFOLLOW`` (a symlink, FIFO or
    device is refused, never read through), at most ``limit`` bytes; raises OSError or
    ValueError (too large, not a regular file). ``root_only``: the file and its directory
    must be root's and writable by nobody else (else ValueError).
    """
    if root_only and not _root_only(os.stat(os.path.dirname(path) or ".")):
        raise ValueError(f"{os.path.dirname(path)} is not root's alone")
    fd = os.open(path, _READ_FLAGS)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path} is not a regular file")
        if root_only and not _root_only(info):
            raise ValueError(f"{path} is not root's alone")
        if info.st_size > limit:
            raise ValueError(f"{path} is larger than {limit} bytes")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path} is larger than {limit} bytes")
    return data


# ---------------------------------------------------------------------------
# restart markers: <PENDING_DIR>/<unit>.json, JSON {"reasons": [...], "version": ...,
# "written": ...}; written by the state layline.restart_pending, cleared by the rolling
# restart once the node passed its health gate
# ---------------------------------------------------------------------------


def marker_path(unit, directory=None):
    """``<directory>/<unit>.json`` (default layline_schema.PENDING_DIR); refuses a non-unit."""
    if not isinstance(unit, str) or not UNIT_RE.match(unit):
        raise CommandExecutionError(
            f"{unit!r} is not a layline unit name (e.g. layline-reactive-engine)"
        )
    return os.path.join(directory or layline_schema.PENDING_DIR, f"{unit}.json")


def read_marker(path):
    """The marker at ``path`` (a dict); None when absent, unreadable or not a JSON object."""
    try:
        data = json.loads(read_bounded(path))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def list_markers(directory=None):
    """``{unit: marker}`` of every marker in ``directory``; an unreadable one says so."""
    directory = directory or layline_schema.PENDING_DIR
    found = {}
    if not os.path.isdir(directory):
        return found
    for name in sorted(os.listdir(directory)):
        unit, ext = os.path.splitext(name)
        if ext != ".json" or not UNIT_RE.match(unit):
            continue
        try:
            data = json.loads(read_bounded(os.path.join(directory, name)))
        except (OSError, ValueError) as exc:
            data = {"reasons": [f"unreadable marker ({exc})"], "version": None, "written": None}
        if not isinstance(data, dict):
            data = {"reasons": ["marker is not a JSON object"], "version": None, "written": None}
        found[unit] = data
    return found


def write_marker(path, marker):
    """Write ``marker`` (a dict) to ``path`` (0644, the writer's owner), creating its directory."""
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    write_file(path, json.dumps(marker, indent=2) + "\n", mode=0o644)


def clear_marker(path):
    """Remove the marker at ``path``; True when one was removed."""
    try:
        os.remove(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise CommandExecutionError(f"cannot remove the restart marker {path}: {exc}") from None
    return True
