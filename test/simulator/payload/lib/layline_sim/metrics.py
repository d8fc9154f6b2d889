"""Prometheus text exposition (format 0.0.4) of the simulated engine.

Served at ``/metrics`` on ``layline.reactive-engine.metrics.port`` when
``layline.reactive-engine.metrics.enabled`` is true (the block of layline's
Multi-Node Cluster Setup guide), and at ``/engine/prometheus`` on the REST port.
Names and labels: see the simulator README ("Metrics").
"""

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STATUSES = ("Joining", "WeaklyUp", "Up", "Leaving", "Exiting", "Down", "Removed")


def _family(lines, name, kind, help_text, samples):
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} {kind}")
    for labels, value in samples:
        label_text = ",".join(f'{key}="{val}"' for key, val in labels.items())
        lines.append(f"{name}{{{label_text}}} {value}" if label_text else f"{name} {value}")


def exposition(snapshot, self_address, self_status, journal_healthy, journal_writes, uptime):
    """The text Prometheus scrapes, from a ``/cluster/members`` snapshot and counters."""
    counts = dict.fromkeys(STATUSES, 0)
    for member in snapshot["members"]:
        counts[member["status"]] = counts.get(member["status"], 0) + 1
    lines = []
    _family(
        lines,
        "layline_cluster_size",
        "gauge",
        "Cluster members this engine sees (every status but Removed).",
        [({}, len(snapshot["members"]))],
    )
    _family(
        lines,
        "layline_cluster_members",
        "gauge",
        "Cluster members this engine sees, by member status.",
        [({"status": status}, counts[status]) for status in counts],
    )
    _family(
        lines,
        "layline_member_status",
        "gauge",
        "This engine's own member status: 1 for the current status, 0 for the others.",
        [({"status": status}, int(status == self_status)) for status in STATUSES],
    )
    _family(
        lines,
        "layline_cluster_unreachable_members",
        "gauge",
        "Cluster members this engine sees as unreachable.",
        [({}, len(snapshot["unreachable"]))],
    )
    _family(
        lines,
        "layline_cluster_is_leader",
        "gauge",
        "1 when this engine is the cluster leader.",
        [({}, int(snapshot.get("leader") == self_address))],
    )
    _family(
        lines,
        "layline_journal_healthy",
        "gauge",
        "1 when the persistence journal works.",
        [({}, int(journal_healthy))],
    )
    _family(
        lines,
        "layline_journal_writes_total",
        "counter",
        "Journal rows this engine has written since it started.",
        [({}, journal_writes)],
    )
    _family(
        lines,
        "layline_uptime_seconds",
        "gauge",
        "Seconds since this engine started.",
        [({}, f"{uptime:.3f}")],
    )
    return "\n".join(lines) + "\n"
