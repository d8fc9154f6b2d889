"""Engine start-up failures: bad HOCON, missing keys."""

from simsupport import engine_conf


def test_bad_hocon_exits_naming_the_parse_problem(lab):
    proc = lab.engine(1, conf="pekko { cluster { seed-nodes = [ \n")
    assert proc.wait(20) == 1
    err = proc.stderr()
    assert err.startswith("ERROR") and "cannot parse" in err
    assert "Expected" in err or "line:" in err


def test_missing_required_key_is_named(lab):
    conf = engine_conf(1).replace(
        'canonical { hostname = "127.0.0.11", port = 25843 }',
        'canonical { hostname = "127.0.0.11" }',
    )
    proc = lab.engine(1, conf=conf)
    assert proc.wait(20) == 1
    assert "pekko.remote.artery.canonical.port" in proc.stderr()


def test_missing_seed_nodes_is_named(lab):
    conf = engine_conf(1).replace("seed-nodes = [", "# seed-nodes = [")
    proc = lab.engine(1, conf=conf)
    assert proc.wait(20) == 1
    assert "pekko.cluster.seed-nodes" in proc.stderr()


def test_missing_journal_url_is_named(lab):
    conf = engine_conf(1).replace('db { url = "', 'db { nourl = "')
    proc = lab.engine(1, conf=conf)
    assert proc.wait(20) == 1
    assert "pekko-persistence-jdbc.shared-databases.h2file.db.url" in proc.stderr()
