"""The orchestrations `layline.rolling` and `layline.orch.deploy` render and run on a real
master with the runner synced from salt://_runners (no engines run here, so the rolling
restart must refuse before it touches anything)."""

import pytest


@pytest.fixture(scope="module")
def salt_run(salt_master):
    cli = salt_master.salt_run_cli(timeout=300)
    ret = cli.run("saltutil.sync_all")
    assert ret.returncode == 0, ret
    assert "runners.layline" in str(ret.data), ret.data
    return cli


def _steps(ret):
    data = ret.data["data"] if isinstance(ret.data, dict) and "data" in ret.data else ret.data
    return {sid: st for minion in data.values() for sid, st in minion.items()}


def test_dry_run_shows_the_refused_plan(salt_run, use_pillar):
    use_pillar("seed")
    ret = salt_run.run("state.orch", "layline.rolling", "test=True")
    steps = _steps(ret)
    assert list(steps) == [
        "test_|-layline-rolling-test-configurable_test_state-plan_|-"
        "rolling restart plan_|-configurable_test_state"
    ], steps
    step = next(iter(steps.values()))
    assert step["result"] is False
    assert "REFUSED" in step["comment"] and "no engine answered" in step["comment"]


def test_rolling_refuses_with_a_nonzero_exit_and_no_secret(salt_run, use_pillar):
    use_pillar("seed")
    ret = salt_run.run("state.orch", "layline.rolling")
    assert ret.returncode != 0, ret
    steps = _steps(ret)
    (step,) = steps.values()
    assert step["result"] is False
    assert "REFUSED" in str(step["changes"]), step
    assert "S3cr" not in ret.stdout


def test_deploy_orchestration_renders_the_runner_order(salt_run, use_pillar):
    use_pillar("seed")
    ret = salt_run.run("state.orchestrate_show_sls", "layline.orch.deploy")
    assert ret.returncode == 0, ret
    steps = next(iter(ret.data.values()))
    ids = list(steps)
    assert ids == [
        # layline.tls on the CA minion (the config server): it signs the database's certificate
        "layline-orch-deploy-salt-state-tls-ca",
        "layline-orch-deploy-salt-state-database",
        "layline-orch-deploy-salt-state-config-server",
        "layline-orch-deploy-salt-state-ll-node-1",
        "layline-orch-deploy-salt-state-ll-node-2",
        "layline-orch-deploy-salt-function-ready-ll-node-1",
        "layline-orch-deploy-salt-function-ready-ll-node-2",
    ], ids
    first = {
        k: v
        for item in steps["layline-orch-deploy-salt-state-tls-ca"]["salt"]
        if isinstance(item, dict)
        for k, v in item.items()
    }
    # a list target of one id: an id is never read as a glob or a comma list (issue 18)
    assert (first["tgt"], first["tgt_type"], first["sls"]) == (
        ["ll-config-server"],
        "list",
        ["layline.tls"],
    ), first


def test_restore_orchestration_passes_the_master_settings_without_the_password(
    salt_run, use_pillar
):
    use_pillar("seed")
    ret = salt_run.run(
        "state.orchestrate_show_sls",
        "layline.orch.restore",
        'pillar={"layline": {"restore": {"file": "layline-20260101T020000Z.sql.gz"}}}',
    )
    assert ret.returncode == 0, ret
    steps = next(iter(ret.data.values()))
    assert list(steps) == ["layline-orch-restore-salt-runner-restore"], steps
    args = {
        k: v
        for item in steps["layline-orch-restore-salt-runner-restore"]["salt"]
        if isinstance(item, dict)
        for k, v in item.items()
    }
    assert args["file"] == "layline-20260101T020000Z.sql.gz"
    settings = args["settings"]
    # the same builder as layline.rolling and layline.orch.deploy (layline/orch/settings.jinja)
    assert settings["database"] == {"backend": "mysql", "minion": "ll-mysql", "name": "layline"}
    assert [n["minion"] for n in settings["cluster"]["nodes"]] == ["ll-node-1", "ll-node-2"]
    assert settings["ports"]["cluster"] == 5843
    assert "S3cr" not in ret.stdout
