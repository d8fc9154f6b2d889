"""
The rolling restart's node step, the pure part: what a peer's ``/cluster/members`` says
about a restarting member, the gate's conditions, the log tail.

Used by the execution module ``layline_member`` on the minion (the node's whole step in
one call) and by the runner (the check between waves); imported plainly (Salt puts the
synced ``_utils`` on ``sys.path``), unit-tested without Salt.

Pekko's member states (``/cluster/members``): Joining, WeaklyUp, Up, Leaving, Exiting,
Down, Removed (a removed member is no longer listed). ``/ready`` answers 200 only for an
Up (or WeaklyUp) member whose health checks pass.
"""

import datetime
from urllib.parse import urlsplit

# the gate's conditions, in the order the operator reads them
UP_IN_PEER_VIEW = "up"
READY = "ready"
MEMBER_COUNT = "members"
GATE_CONDITIONS = (UP_IN_PEER_VIEW, READY, MEMBER_COUNT)
# the node's phases, in order (timings and progress events use these names)
PHASES = ("stopped", "left", "switched", "started", "up", "ready", "done")
# consecutive polls the gate must pass
GATE_POLLS = 2
# the log tail: at most this many bytes read from the end of the file
LOG_TAIL_BYTES = 64 * 1024


def norm(address):
    return str(address or "").strip().lower()


def status_of(view, address):
    """The status ``view`` (a ``/cluster/members`` answer) lists ``address`` with, or None
    when it does not list it (removed, or never joined)."""
    wanted = norm(address)
    for member in (view or {}).get("members", []) or []:
        if isinstance(member, dict) and norm(member.get("node")) == wanted:
            return member.get("status") or "unknown"
    return None


def up_count(view):
    """The members ``view`` lists as Up, less those it lists as unreachable (an Up member
    that its peers cannot reach does not carry the cluster)."""
    unreachable = set(unreachable_of(view))
    return sum(
        1
        for member in (view or {}).get("members", []) or []
        if isinstance(member, dict)
        and member.get("status") == "Up"
        and norm(member.get("node")) not in unreachable
    )


def unreachable_of(view):
    return sorted(
        norm(entry.get("node"))
        for entry in (view or {}).get("unreachable", []) or []
        if isinstance(entry, dict)
    )


def has_left(view, address):
    """True when the peer's ``view`` no longer lists ``address`` (its old incarnation
    is removed; Leaving, Exiting and Down members are still listed)."""
    return view is not None and status_of(view, address) is None


def gate_missing(view, address, ready, expected):
    """
    The gate conditions that do not hold, as ``[(condition, detail)]`` (empty: the node
    passes this poll).

    view
        a peer's ``/cluster/members`` (None when no peer answered)
    address
        the node's Pekko address
    ready
        the node's own ``/ready`` (True when 200)
    expected
        the number of Up members the cluster had before the wave
    """
    missing = []
    status = status_of(view, address) if view is not None else None
    if view is None:
        missing.append((UP_IN_PEER_VIEW, "no peer answered /cluster/members"))
    elif status != "Up":
        missing.append((UP_IN_PEER_VIEW, f"a peer lists it as {status or 'not a member'}"))
    if ready is not True:
        missing.append((READY, "its /ready is not 200"))
    count = up_count(view)
    if view is not None and count < int(expected or 0):
        missing.append((MEMBER_COUNT, f"{count} members Up, {expected} before the wave"))
    elif view is None and expected:
        missing.append((MEMBER_COUNT, "member count unknown"))
    return missing


def management_endpoint(url):
    """``(host, port)`` of a management URL ``http://host:port``; ValueError if it is not one."""
    parts = urlsplit(str(url or ""))
    if parts.scheme not in ("http", "https") or not parts.hostname or not parts.port:
        raise ValueError(f"{url!r} is not a management URL like http://host:8558")
    return parts.hostname, parts.port


def management_url(host, port):
    host = str(host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def tail_lines(data, lines):
    """The last ``lines`` lines of ``data`` (bytes read from the end of a file), as text;
    a first partial line (the read began inside it) is dropped."""
    if not data:
        return ""
    text = data.decode("utf-8", errors="replace")
    parts = text.splitlines()
    if len(data) >= LOG_TAIL_BYTES and parts:
        parts = parts[1:]
    return "\n".join(parts[-int(lines) :]) if lines else ""


def marker_seconds(written):
    """Seconds since the epoch of a marker's ``written`` stamp (``%Y-%m-%dT%H:%M:%SZ``,
    UTC), or None when it cannot be read."""
    try:
        stamp = datetime.datetime.strptime(str(written), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None
    return stamp.replace(tzinfo=datetime.timezone.utc).timestamp()


def marker_done(marker, started_at):
    """
    True when the restart ``marker`` is older than the engine's current start
    (``started_at``: the unit's ``ActiveEnterTimestamp`` in seconds since the epoch) and
    asks for no release switch: the engine was restarted by hand after the change, so the
    change is live and the marker only has to be cleared. A marker with a version still
    needs the switch between a stop and a start. The stamp has whole seconds: a start in
    the same second as the marker counts as older (restart it, to be sure).
    """
    if not isinstance(marker, dict) or marker.get("version"):
        return False
    written = marker_seconds(marker.get("written"))
    if written is None:
        return False
    if isinstance(started_at, bool) or not isinstance(started_at, (int, float)):
        return False
    return written + 1 <= started_at
