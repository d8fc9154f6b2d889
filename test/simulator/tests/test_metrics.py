"""The engine's Prometheus endpoint (layline.reactive-engine.metrics), read by the Prometheus
project's own Python parser (prometheus_client), not by code of ours."""

import time

from prometheus_client.parser import text_string_to_metric_families
from simsupport import REST, host, http_get, wait_for

METRICS_PORT = 19095
ENABLED = f"layline.reactive-engine.metrics {{ enabled = true, port = {METRICS_PORT} }}"


def _samples(i):
    code, text = http_get(f"http://{host(i)}:{METRICS_PORT}/metrics")
    assert code == 200, text
    families = {family.name: family for family in text_string_to_metric_families(text)}
    return families, {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in families.values()
        for s in family.samples
    }


def _up_everywhere(nodes):
    try:
        return all(
            _samples(i)[1][("layline_cluster_members", (("status", "Up"),))] == 2 for i in nodes
        )
    except (OSError, AssertionError, KeyError):
        return False


def test_metrics_port_serves_membership_status_journal_and_uptime(lab):
    lab.engine(1, seeds=(1, 2), extra=ENABLED)
    lab.engine(2, seeds=(1, 2), extra=ENABLED)
    wait_for(lambda: _up_everywhere((1, 2)), what="both engines report 2 Up members")
    families, samples = _samples(1)
    assert families["layline_journal_writes"].type == "counter"
    assert families["layline_cluster_size"].type == "gauge"
    assert samples[("layline_cluster_size", ())] == 2
    assert samples[("layline_member_status", (("status", "Up"),))] == 1
    assert samples[("layline_member_status", (("status", "Joining"),))] == 0
    assert samples[("layline_cluster_unreachable_members", ())] == 0
    assert samples[("layline_journal_healthy", ())] == 1
    writes = samples[("layline_journal_writes_total", ())]
    assert writes >= 2  # Joining and Up of its own membership
    uptime = samples[("layline_uptime_seconds", ())]
    time.sleep(0.5)
    assert _samples(1)[1][("layline_uptime_seconds", ())] > uptime
    # the same text on the REST port's path (layline's documented /engine/prometheus)
    code, text = http_get(f"http://{host(1)}:{REST}/engine/prometheus")
    assert code == 200 and "layline_cluster_size 2" in text
    assert http_get(f"http://{host(1)}:{METRICS_PORT}/other")[0] == 404


def test_a_stopped_member_leaves_the_survivors_counts(lab):
    lab.engine(1, seeds=(1, 2), extra=ENABLED)
    second = lab.engine(2, seeds=(1, 2), extra=ENABLED)
    wait_for(lambda: _up_everywhere((1, 2)), what="both engines report 2 Up members")
    second.kill(15)  # SIGTERM: graceful leave
    wait_for(
        lambda: _samples(1)[1][("layline_cluster_size", ())] == 1,
        what="node 1 reporting a cluster of one",
    )
    assert _samples(1)[1][("layline_cluster_members", (("status", "Up"),))] == 1


def test_metrics_port_is_closed_unless_enabled(lab):
    lab.engine(1, seeds=(1,))
    wait_for(
        lambda: http_get(f"http://{host(1)}:{REST}/engine/status")[0] == 200, what="engine REST up"
    )
    code, _text = http_get(f"http://{host(1)}:{METRICS_PORT}/metrics")
    assert code != 200
