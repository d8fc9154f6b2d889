"""The restore runner (_runners/layline.py restore_plan, Restorer) with a fake cluster."""

import pytest
from rollingsupport import FakeClock, FakeCluster, runner, settings

import layline_plan

BACKUP = {
    "file": "layline-20260101T020000Z.sql.gz",
    "size": 1234,
    "age": "2h 5m",
    "path": "/var/backups/layline/layline-20260101T020000Z.sql.gz",
}


def restore_settings(count=3, min_nr=1, backend="mysql", **rolling):
    conf = settings(count, min_nr=min_nr, **rolling)
    conf["database"] = {"backend": backend, "minion": "db", "name": "layline"}
    return conf


class RestoreCluster(FakeCluster):
    """FakeCluster plus the config server ``cfg`` and the database minion ``db``."""

    def __init__(self, count=3, rows=10, fail=(), **kwargs):
        super().__init__(count, **kwargs)
        self.server_running = True
        self.rows = rows
        self.fail = set(fail)  # (minion, fun) pairs that fail

    def _one(self, minion, fun, args, kwargs):
        if (minion, fun) in self.fail:
            self.calls.append((minion, fun, args, kwargs))
            return False, f"{fun} on {minion} failed: boom"
        if minion == "cfg":
            self.calls.append((minion, fun, args, kwargs))
            if fun in ("service.stop", "service.start"):
                self.server_running = fun == "service.start"
                return True, True
            if fun == "layline.bind_address":
                return True, "10.0.0.2"
            if fun == "network.connect":
                # listening only at the address the config server binds
                return True, {"result": self.server_running and args[0] == "10.0.0.2"}
            return False, f"unexpected {fun}"
        if minion == "db":
            self.calls.append((minion, fun, args, kwargs))
            if fun == "layline_db.journal_rows":
                return True, self.rows
            if fun == "layline_db.restore":
                assert not any(self.running.values()) and not self.server_running, (
                    "restore while a writer runs"
                )
                self.rows = 7
                return True, {"file": args[0], "journal_rows": 7, "seconds": 0.5}
            return False, f"unexpected {fun}"
        return super()._one(minion, fun, args, kwargs)


def run(cluster, conf, backup=BACKUP):
    plan = layline_plan.restore_plan(conf, BACKUP["file"], backup)
    restorer = runner.Restorer(
        conf, cluster, progress=lambda text: None, clock=cluster.clock, sleep=cluster.clock.sleep
    )
    return plan, restorer.run(plan), restorer


def test_plan_refuses_without_a_file_and_names_the_pillar_key():
    plan = layline_plan.restore_plan(restore_settings(), None, None)
    assert plan["refused"] and "layline:restore:file" in plan["refused"][0]
    assert plan["text"].startswith("restore REFUSED, nothing was changed")


def test_plan_refuses_a_file_the_database_minion_cannot_restore():
    plan = layline_plan.restore_plan(
        restore_settings(),
        "nope.sql.gz",
        "backup nope.sql.gz does not exist in /var/backups/layline",
    )
    assert plan["refused"] == ["db: backup nope.sql.gz does not exist in /var/backups/layline"]


def test_plan_refuses_the_h2_backend():
    plan = layline_plan.restore_plan(restore_settings(backend="h2"), BACKUP["file"], None)
    assert any("backend is not mysql" in reason for reason in plan["refused"])


def test_plan_lists_stops_newest_first_and_starts_in_seed_order():
    plan = layline_plan.restore_plan(restore_settings(count=3, min_nr=2), BACKUP["file"], BACKUP)
    assert plan["refused"] == []
    assert plan["stop"] == ["n3", "n2", "n1"]
    assert plan["start_groups"] == [["n1", "n2"], ["n3"]]
    text = plan["text"]
    assert BACKUP["path"] in text and "1234 bytes" in text
    order = [
        "stop the engines",
        "stop the config server cfg",
        "count the journal rows",
        "drop database layline",
        "start the config server cfg",
        "start n1, n2",
        "start n3",
    ]
    assert [text.index(step) for step in order] == sorted(text.index(step) for step in order)


@pytest.mark.parametrize(
    "count,min_nr,groups",
    [
        (0, 1, []),
        (1, 1, [["a"]]),
        (3, 1, [["a"], ["b"], ["c"]]),
        (3, 2, [["a", "b"], ["c"]]),
        (2, 3, [["a", "b"]]),
    ],
)
def test_start_groups(count, min_nr, groups):
    nodes = ["a", "b", "c"][:count]
    assert layline_plan.start_groups(nodes, min_nr) == groups


def test_restore_runs_stop_count_restore_start_in_order_and_reports_rows():
    cluster = RestoreCluster(3, rows=10, clock=FakeClock())
    plan, failure, restorer = run(cluster, restore_settings(3, min_nr=2, timeout=30))
    assert failure is None
    sequence = [
        (m, f)
        for m, f, _a, _k in cluster.calls
        if f in ("service.stop", "service.start", "layline_db.restore", "layline_db.journal_rows")
    ]
    assert sequence == [
        ("n3", "service.stop"),
        ("n2", "service.stop"),
        ("n1", "service.stop"),
        ("cfg", "service.stop"),
        ("db", "layline_db.journal_rows"),
        ("db", "layline_db.restore"),
        ("cfg", "service.start"),
        ("n1", "service.start"),
        ("n2", "service.start"),
        ("n3", "service.start"),
        ("db", "layline_db.journal_rows"),
    ]
    assert cluster.funs("layline_db.restore")[0][1] == (BACKUP["path"],)
    assert restorer.report == {"rows_before": 10, "rows_restored": 7, "rows_after": 7}
    assert "before 10, restored 7" in restorer.summary()
    # n3 was started only once n1 and n2 were Up and ready (the rolling gate)
    starts = [i for i, c in enumerate(cluster.calls) if c[:2] == ("n3", "service.start")]
    ready = [
        i for i, c in enumerate(cluster.calls) if c[1] == "layline.ready" and c[0] in ("n1", "n2")
    ]
    assert ready and max(ready) < starts[0]


def test_a_failed_stop_restores_nothing_and_starts_the_services_again():
    cluster = RestoreCluster(3, fail={("n2", "service.stop")}, clock=FakeClock())
    _plan, failure, _restorer = run(cluster, restore_settings(3, timeout=30))
    assert "graceful stop of n2 failed" in failure and "started again" in failure
    assert cluster.funs("layline_db.restore") == []
    assert all(cluster.running.values()) and cluster.server_running


def test_a_failed_restore_leaves_the_services_stopped():
    cluster = RestoreCluster(2, fail={("db", "layline_db.restore")}, clock=FakeClock())
    _plan, failure, _restorer = run(cluster, restore_settings(2, timeout=30))
    assert failure.startswith("restore failed") and "stay stopped" in failure
    assert not any(cluster.running.values()) and not cluster.server_running
    assert cluster.funs("service.start") == []


def test_an_engine_not_back_in_time_fails_the_restore_naming_it():
    cluster = RestoreCluster(3, broken={"n3"}, clock=FakeClock())
    _plan, failure, _restorer = run(cluster, restore_settings(3, timeout=20))
    assert failure.startswith("n3: not Up and ready within 20 s"), failure


@pytest.fixture
def salt_run(monkeypatch):
    """The runner function as salt-run calls it, with the fake cluster as its client."""
    cluster = RestoreCluster(2, clock=FakeClock())
    cluster.backup = BACKUP

    def one(minion, fun, args, kwargs, original=cluster._one):
        if fun == "layline_db.check_backup":
            cluster.calls.append((minion, fun, args, kwargs))
            return True, cluster.backup
        return original(minion, fun, args, kwargs)

    cluster._one = one
    monkeypatch.setattr(runner, "SaltClient", lambda opts: cluster)
    monkeypatch.setattr(runner, "__opts__", {"quiet": True}, raising=False)
    monkeypatch.setattr(runner, "__context__", {}, raising=False)
    monkeypatch.setattr(runner, "_CLOCK", cluster.clock)
    monkeypatch.setattr(runner, "_SLEEP", cluster.clock.sleep)
    return cluster


def test_runner_test_mode_shows_the_plan_and_changes_nothing(salt_run):
    ret = runner.restore(file=BACKUP["file"], settings=restore_settings(2), test=True)
    assert ret["result"] is None and "drop database layline" in ret["comment"]
    assert {f for _m, f, _a, _k in salt_run.calls} == {"layline_db.check_backup"}
    assert runner.__context__ == {}
    assert salt_run.closed == 1  # its Salt client closed


def test_runner_without_a_file_fails_with_a_retcode_and_asks_nobody(salt_run):
    ret = runner.restore(settings=restore_settings(2))
    assert ret["result"] is False and "layline:restore:file" in ret["comment"]
    assert runner.__context__["retcode"] == 1 and salt_run.calls == []


def test_runner_restores_and_returns_the_rows_without_any_secret(salt_run):
    conf = restore_settings(2, timeout=30)
    conf["database"]["password"] = "S3cret"  # noqa: S105 - must never reach the return
    ret = runner.restore(file=BACKUP["file"], settings=conf)
    assert ret["result"] is True, ret["comment"]
    assert (ret["rows_before"], ret["rows_restored"]) == (10, 7)
    assert "S3cret" not in repr(ret)
    assert salt_run.closed == 1


def test_settings_keep_only_the_non_secret_database_keys():
    conf = layline_plan.settings_of(
        {
            "database": {
                "backend": "mysql",
                "minion": "db",
                "name": "x",
                "password": "S3cret",
                "user": "layline",
            }
        }
    )
    assert conf["database"] == {"backend": "mysql", "minion": "db", "name": "x"}


def test_a_failed_last_count_does_not_fail_a_finished_restore():
    cluster = RestoreCluster(2, clock=FakeClock())
    original = cluster._one

    def one(minion, fun, args, kwargs):
        if fun == "layline_db.journal_rows" and cluster.funs("layline_db.restore"):
            return False, "db did not answer"
        return original(minion, fun, args, kwargs)

    cluster._one = one
    _plan, failure, restorer = run(cluster, restore_settings(2, timeout=30))
    assert failure is None and restorer.report["rows_after"] is None
    assert "after the start unknown" in restorer.summary()
