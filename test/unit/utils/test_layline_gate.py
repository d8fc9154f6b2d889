"""_utils/layline_gate.py: the pure rules of a node's step."""

import pytest

import layline_gate

STAMP = "2026-12-03T10:00:00Z"
AT = layline_gate.marker_seconds(STAMP)


@pytest.mark.parametrize(
    ("marker", "started_at", "done"),
    [
        ({"version": None, "written": STAMP}, AT + 1, True),  # restarted a second later
        ({"version": None, "written": STAMP}, AT + 0.5, False),  # same second: restart it
        ({"version": None, "written": STAMP}, AT - 60, False),  # the change came later
        ({"version": "2.5.5", "written": STAMP}, AT + 600, False),  # a switch still needed
        ({"version": None, "written": None}, AT + 600, False),  # unknown age
        ({"version": None, "written": STAMP}, None, False),  # never started
    ],
)
def test_marker_done_only_when_older_than_the_start_and_no_switch(marker, started_at, done):
    assert layline_gate.marker_done(marker, started_at) is done


def test_up_count_leaves_out_up_members_listed_as_unreachable():
    view = {
        "members": [{"node": f"pekko://l@n{i}:1", "status": "Up"} for i in range(3)]
        + [{"node": "pekko://l@n3:1", "status": "Joining"}],
        "unreachable": [{"node": "pekko://l@n1:1"}],
    }
    assert layline_gate.up_count(view) == 2
