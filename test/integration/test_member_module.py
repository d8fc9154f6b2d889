"""_modules/layline_member.py loads on a real minion (after saltutil.sync_all) and answers
in one call; no engine runs here."""


def test_state_answers_in_one_call_on_a_real_minion(salt_cli, use_pillar):
    use_pillar("seed")
    ret = salt_cli.run("layline_member.state", minion_tgt="ll-node-1")
    assert ret.returncode == 0, ret
    state = ret.data
    assert set(state) == {"pending", "ready", "unit"}, state
    assert set(state["unit"]) == {"active", "sub", "result", "stop_timeout", "started_at"}
    # no engine here: not ready, never started
    assert state["ready"] in (False, None) and state["unit"]["started_at"] is None


def test_log_tail_reports_a_missing_log_instead_of_failing(salt_cli, use_pillar, tmp_path):
    use_pillar("seed")
    ret = salt_cli.run("layline_member.log_tail", f"home={tmp_path}", minion_tgt="ll-node-1")
    assert ret.returncode == 0, ret
    assert ret.data.startswith("(cannot read "), ret.data


def test_restart_refuses_nodes_without_this_minion(salt_cli, use_pillar):
    use_pillar("seed")
    ret = salt_cli.run(
        "layline_member.restart",
        'nodes=[{"minion": "other", "address": "pekko://l@x:1", "url": "http://x:1"}]',
        minion_tgt="ll-node-1",
    )
    assert ret.returncode != 0 and "is not among the nodes" in str(ret.data), ret
