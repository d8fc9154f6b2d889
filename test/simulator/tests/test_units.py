"""Pure functions: split-brain resolver decisions, durations, JDBC urls."""

import pytest
from layline_sim.cluster import Member, leader_of, merge_members, sbr_decide
from layline_sim.config import ConfigError, _mysql_settings, duration_seconds

A, B, C, D = (f"pekko://layline@10.0.0.{i}:5843" for i in (1, 2, 3, 4))


def up(address, n):
    return Member(address, n, 1, "Up", n)


def test_keep_majority():
    members = [up(A, 1), up(B, 2), up(C, 3)]
    assert sbr_decide("keep-majority", members, {C}) == {C}
    assert sbr_decide("keep-majority", members, {A, B}) == {C}
    # equal split: the side with the lowest address survives
    four = members + [up(D, 4)]
    assert sbr_decide("keep-majority", four, {C, D}) == {C, D}
    assert sbr_decide("keep-majority", four, {A, B}) == {C, D}
    # two nodes: losing the lowest address downs the survivor too
    assert sbr_decide("keep-majority", members[:2], {A}) == {B}


def test_static_quorum_and_keep_oldest_and_down_all():
    members = [up(A, 3), up(B, 1), up(C, 2)]
    assert sbr_decide("static-quorum", members, {C}, quorum_size=2) == {C}
    assert sbr_decide("static-quorum", members, {B, C}, quorum_size=2) == {A}
    four = members + [up(D, 4)]
    assert sbr_decide("keep-oldest", four, {A, C}) == {A, C}  # B (up 1) is oldest
    assert sbr_decide("keep-oldest", four, {B, D}) == {A, C}
    assert sbr_decide("keep-oldest", members, {A, C}) == {B}  # oldest alone: downed
    assert sbr_decide("keep-oldest", members, {B}) == {B}  # oldest alone is downed
    assert sbr_decide("keep-oldest", members, {B}, down_if_alone=False) == {A, C}
    assert sbr_decide("down-all", members, {C}) == {A, B, C}
    assert sbr_decide("keep-majority", members, set()) == set()


def test_joining_members_do_not_count_but_go_down_with_their_side():
    members = [up(A, 1), up(B, 2), Member(C, 3, 1, "Joining"), Member(D, 4, 1, "Joining")]
    assert sbr_decide("keep-majority", members, {C, D}) == {C, D}


def test_merge_prefers_new_incarnation_then_later_status():
    old = Member(A, 1, 100, "Up", 1)
    assert merge_members({A: old}, {A: Member(A, 1, 100, "Leaving", 1)})[A].status == "Leaving"
    assert merge_members({A: old}, {A: Member(A, 2, 200, "Joining")})[A].uid == 2
    assert merge_members({A: Member(A, 2, 200, "Joining")}, {A: old})[A].uid == 2


def test_leader_is_first_reachable_up_member():
    members = [Member(A, 1, 1, "Joining"), up(B, 1), up(C, 2)]
    assert leader_of(members, set()) == B
    assert leader_of(members, {B}) == C
    assert leader_of([Member(A, 1, 1, "Joining"), Member(B, 1, 1, "Joining")], set()) == A


@pytest.mark.parametrize(
    "value,seconds", [("20s", 20), ("5 s", 5), ("500ms", 0.5), (1500, 1.5), ("2 minutes", 120)]
)
def test_durations(value, seconds):
    assert duration_seconds(value) == pytest.approx(seconds)


def test_mysql_url_tls_flags():
    url = "jdbc:mysql://db.example:3307/layline?useSSL=true&verifyServerCertificate=false"
    s = _mysql_settings("mysql", url, "layline", "pw")
    assert (s.host, s.port, s.database, s.ssl_required, s.ssl_verify) == (
        "db.example",
        3307,
        "layline",
        True,
        False,
    )
    s = _mysql_settings("mysql", "jdbc:mysql://db/layline?useSSL=false", "u", "p")
    assert (s.port, s.ssl_required) == (3306, False)
    assert "p" not in s.describe().split()
    with pytest.raises(ConfigError, match="db.url"):
        _mysql_settings("mysql", "jdbc:mysql:nope", "u", "p")
