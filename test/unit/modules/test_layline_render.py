"""layline.render / render_data / roles / mapdata: HOCON that reads back exactly."""

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyhocon import ConfigFactory
from salt.exceptions import CommandExecutionError
from unitsupport import SECRET, SEED_PILLAR

import layline_hocon
from layline_schema import MASK

UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
SAFE_TEXT = st.text(
    alphabet=st.characters(
        exclude_categories=("Cs",),
        exclude_characters=[chr(c) for c in range(32) if c not in (9, 10, 13)],
    )
)
# literal key segments: no dot (dots make paths), quote, backslash or control character
SAFE_KEY = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters=['"', "\\", "."]),
    min_size=1,
).filter(lambda key: not re.search(r"[\x00-\x1f]", key))
FAST = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _parse(text):
    return ConfigFactory.parse_string(text, resolve=False)


def _render_engine(layline, config, minion_id="ll-node-1"):
    """The real text, as the state writes it (layline.render masks the password)."""
    return _parse(layline._render_text("reactive-engine", config, minion_id))


def test_render_masks_the_password_the_state_renderer_does_not(layline, seed_config):
    shown = layline.render("reactive-engine", seed_config)
    assert SECRET not in shown
    assert _parse(shown)["pekko-persistence-jdbc.shared-databases.mysql.db.password"] == (MASK)
    real = layline._render_text("reactive-engine", seed_config, "ll-node-1")
    assert shown == real.replace(SECRET, MASK)


def test_render_refuses_an_invalid_model(layline, seed_config):
    seed_config["cluster"]["split_brain_resolver"]["strategy"] = None
    for render in (
        lambda: layline.render("reactive-engine", seed_config),
        lambda: layline._render_text("reactive-engine", seed_config, "ll-node-1"),
    ):
        with pytest.raises(
            CommandExecutionError, match="(?s)invalid model.*cluster:split_brain_resolver:strategy"
        ):
            render()


def test_engine_config_has_the_contract_keys(layline, seed_config):
    text = layline._render_text("reactive-engine", seed_config, "ll-node-1")
    assert text.startswith("# Managed by Salt (layline-formula). Do not edit by hand.\n")
    conf = _parse(text)
    assert conf["pekko.actor.provider"] == "cluster"
    assert conf["pekko.remote.artery.canonical.hostname"] == "ll-node-1.orb.local"
    assert conf["pekko.remote.artery.canonical.port"] == 5843
    # every listener binds the canonical address (the lab's /etc/hosts: ll-node-1 .12)
    for key in (
        "pekko.remote.artery.bind.hostname",
        "pekko.management.http.bind-hostname",
        "layline.reactive-engine.rest-server.bind.hostname",
    ):
        assert conf[key] == "10.231.7.12", key
    assert conf["pekko.cluster.min-nr-of-members"] == 2
    assert conf["pekko.cluster.downing-provider-class"] == (
        "org.apache.pekko.cluster.sbr.SplitBrainResolverProvider"
    )
    assert conf["pekko.cluster.split-brain-resolver.active-strategy"] == "keep-majority"
    assert conf["pekko.cluster.split-brain-resolver.stable-after"] == "20s"
    # a downed member exits (Pekko: exit code -1) so that its unit restarts it (issue 11)
    assert conf["pekko.cluster.run-coordinated-shutdown-when-down"] is True
    assert conf["pekko.coordinated-shutdown.exit-jvm"] is True
    assert conf["pekko.management.http.bind-port"] == 8558
    assert conf["pekko.management.http.route-providers-read-only"] is True
    assert conf["layline.reactive-engine.rest-server.bind.port"] == 5842
    for plugin in ("jdbc-journal", "jdbc-read-journal", "jdbc-snapshot-store"):
        assert conf[f"{plugin}.use-shared-db"] == "mysql"
    db = conf["pekko-persistence-jdbc.shared-databases.mysql"]
    assert db["profile"] == "slick.jdbc.MySQLProfile$"
    assert db["db.url"].startswith(
        "jdbc:mysql://ll-mysql.orb.local:3306/layline?sslMode=VERIFY_IDENTITY"
        "&trustCertificateKeyStoreUrl=file:/etc/layline/tls/truststore.jks"
        "&trustCertificateKeyStoreType=JKS&trustCertificateKeyStorePassword=changeit&"
    )
    assert "allowPublicKeyRetrieval" not in db["db.url"] and "useSSL" not in db["db.url"]
    assert db["db.password"] == SECRET
    assert db["db.driver"] == "com.mysql.cj.jdbc.Driver"


def test_static_quorum_and_tls_disabled(layline, make_config):
    pillar = {
        "cluster": {"split_brain_resolver": {"strategy": "static-quorum", "quorum_size": 2}},
        "database": {"tls": "disabled"},
    }
    conf = _render_engine(layline, make_config(SEED_PILLAR, pillar))
    assert conf["pekko.cluster.split-brain-resolver.static-quorum.quorum-size"] == 2
    url = conf["pekko-persistence-jdbc.shared-databases.mysql.db.url"]
    assert "?sslMode=DISABLED&" in url
    assert "trustCertificateKeyStore" not in url and "allowPublicKeyRetrieval" not in url


def test_config_server_and_engines_verify_the_same_server(layline, make_config):
    """Both roles' JDBC URLs name the database host and the truststore in the TLS directory
    (<config_dir>/tls)."""
    config = make_config(SEED_PILLAR, {"config_dir": "/srv/layline-etc"})
    server = _parse(layline.render("config-server", config, minion_id="ll-config-server"))
    engine = _render_engine(layline, config, "ll-node-2")
    key = "pekko-persistence-jdbc.shared-databases.mysql.db.url"
    assert server[key] == engine[key]
    assert (
        "sslMode=VERIFY_IDENTITY&trustCertificateKeyStoreUrl=file:/srv/layline-etc/tls/"
        "truststore.jks&" in engine[key]
    )
    assert layline.tls_paths(config)["ca"] == "/srv/layline-etc/tls/ca.crt"


def test_h2_default_has_no_tls_parameters(layline, single_config):
    engine = _render_engine(layline, single_config, "ll-single")
    url = engine["pekko-persistence-jdbc.shared-databases.h2file.db.url"]
    assert url.startswith("jdbc:h2:file:") and "ssl" not in url.lower()


def test_thirty_nodes_share_one_ordered_seed_list(layline, make_config):
    nodes = [
        {"minion": f"node-{i:02d}", "hostname": f"node-{i:02d}.example.net"}
        for i in range(30, 0, -1)
    ]  # deliberately not sorted
    config = make_config(SEED_PILLAR, {"cluster": {"nodes": nodes, "min_nr_of_members": 16}})
    expected = [f"pekko://layline@{node['hostname']}:5843" for node in nodes]
    users = set()
    for node in nodes:
        conf = _render_engine(layline, config, node["minion"])
        assert list(conf["pekko.cluster.seed-nodes"]) == expected
        assert conf["pekko.remote.artery.canonical.hostname"] == node["hostname"]
        users.add(conf["pekko-persistence-jdbc.shared-databases.mysql.db.user"])
    assert users == {"layline"}  # the guide's 'laylien' drift cannot happen


def test_single_host_default(layline, single_config):
    assert layline.roles(single_config, minion_id="ll-single") == ["config-server", "engine"]
    assert layline.is_multi_node(single_config) is False
    server = _parse(layline.render("config-server", single_config, minion_id="ll-single"))
    assert server["layline.config-server.rest-server.bind.hostname"] == "127.0.0.1"
    assert server["layline.config-server.rest-server.bind.port"] == 5841
    engine = _render_engine(layline, single_config, "ll-single")
    assert list(engine["pekko.cluster.seed-nodes"]) == ["pekko://layline@127.0.0.1:5843"]
    assert engine["pekko.remote.artery.canonical.hostname"] == "127.0.0.1"
    assert engine["pekko.management.http.bind-hostname"] == "127.0.0.1"
    assert engine["jdbc-journal.use-shared-db"] == "h2file"
    assert engine["pekko-persistence-jdbc.shared-databases.h2file.db.url"] == (
        "jdbc:h2:file:/var/lib/layline/.layline/reactive-engine/database/h2/journal;"
        "DATABASE_TO_UPPER=false"
    )
    assert server["pekko-persistence-jdbc.shared-databases.h2file.db.url"].startswith(
        "jdbc:h2:file:/var/lib/layline/.layline/config-server/database/h2/journal;"
    )


def test_roles_by_minion_id(layline, seed_config):
    assert layline.roles(seed_config, minion_id="ll-node-2") == ["engine"]
    assert layline.roles(seed_config, minion_id="ll-config-server") == ["config-server"]
    assert layline.roles(seed_config, minion_id="ll-mysql") == ["database"]
    assert layline.roles(seed_config, minion_id="elsewhere") == []
    assert layline.roles(seed_config) == ["engine"]  # __opts__ id ll-node-1
    assert layline.is_multi_node(seed_config) is True


def test_unknown_role_and_wrong_minion(layline, seed_config):
    with pytest.raises(CommandExecutionError, match="unknown role 'engine'"):
        layline.render("engine", seed_config)
    with pytest.raises(CommandExecutionError, match="not listed in layline:cluster:nodes"):
        layline.render("reactive-engine", seed_config, minion_id="ll-config-server")
    with pytest.raises(CommandExecutionError, match="not layline:config_server:minion"):
        layline.render("config-server", seed_config)


def test_extra_config_deep_merges_with_dotted_paths(layline, make_config):
    extra = {
        "pekko": {"loglevel": "DEBUG", "cluster": {"roles": ["backend"]}},
        "pekko.actor.serialization-bindings": {'"com.example.Event"': "jackson-json"},
        "layline.reactive-engine.logging.short-logger-names": True,
    }
    config = make_config(SEED_PILLAR, {"extra_config": {"reactive_engine": extra}})
    conf = _render_engine(layline, config)
    assert conf["pekko.loglevel"] == "DEBUG"
    assert list(conf["pekko.cluster.roles"]) == ["backend"]
    assert conf["pekko.cluster.min-nr-of-members"] == 2  # sibling kept
    assert conf["pekko.actor.provider"] == "cluster"  # sibling kept
    assert conf["pekko.actor.serialization-bindings"]['"com.example.Event"'] == "jackson-json"
    assert layline.render_data("reactive-engine", config)["pekko"]["actor"][
        "serialization-bindings"
    ] == {"com.example.Event": "jackson-json"}
    assert conf["layline.reactive-engine.logging.short-logger-names"] is True


def test_substitution_syntax_stays_literal(layline, make_config):
    extra = {"custom": {"ref": "${pekko.actor.provider}", "include": "x", "true": [1, 2.5, None]}}
    config = make_config(SEED_PILLAR, {"extra_config": {"reactive_engine": extra}})
    conf = _render_engine(layline, config)
    assert conf["custom.ref"] == "${pekko.actor.provider}"
    assert layline.render_data("reactive-engine", config)["custom"] == extra["custom"]


@pytest.mark.parametrize(
    "bad",
    [
        {"a..b": 1},
        {"x": {"when": __import__("datetime").date.today()}},
        {"x": float("nan")},
        {'a"b': 1},
    ],
)
def test_unrenderable_extra_config_raises(layline, make_config, bad):
    config = make_config(SEED_PILLAR, {"extra_config": {"reactive_engine": bad}})
    with pytest.raises(CommandExecutionError, match="layline:extra_config:reactive_engine"):
        layline.render("reactive-engine", config)


def test_no_secret_in_render_data_and_mapdata(layline, seed_config, make_config):
    data = layline.render_data("reactive-engine", seed_config)
    assert SECRET not in repr(data)
    db = data["pekko-persistence-jdbc"]["shared-databases"]["mysql"]["db"]
    assert db["password"] == MASK
    # Without config, the module renders salt://layline/map.jinja (stubbed: seed_config).
    calls = []

    def renderer(string, default_renderer):
        calls.append((string, default_renderer))
        return json.dumps(seed_config)

    layline.__salt__ = {"slsutil.renderer": renderer}
    merged = layline.mapdata()
    assert "layline/map.jinja" in calls[0][0] and calls[0][1] == "jinja"
    assert SECRET not in repr(merged)
    assert merged["database"]["password"] == MASK
    assert merged["distribution"]["source"].endswith("layline-linux-amd64-2.5.4.sh")
    assert merged["cluster"]["nodes"] == SEED_PILLAR["cluster"]["nodes"]
    assert layline.roles() == ["engine"]


def test_mapdata_explains_a_render_failure(layline):
    def renderer(string, default_renderer):
        raise OSError("Template layline/map.jinja not found")

    layline.__salt__ = {"slsutil.renderer": renderer}
    with pytest.raises(CommandExecutionError, match="salt://layline/map.jinja.*file_roots"):
        layline.mapdata()


@FAST
@given(password=SAFE_TEXT.filter(bool))
def test_any_password_round_trips(layline, seed_config, password):
    seed_config["database"]["password"] = password
    conf = _render_engine(layline, seed_config)
    assert conf["pekko-persistence-jdbc.shared-databases.mysql.db.password"] == password


@FAST
@given(password=st.text(min_size=1).filter(lambda text: UNSAFE.search(text)))
def test_unwritable_password_raises_without_echo(layline, seed_config, password):
    seed_config["database"]["password"] = password
    with pytest.raises(CommandExecutionError) as info:
        layline._render_text("reactive-engine", seed_config, "ll-node-1")
    assert password not in str(info.value)


@FAST
@given(hostname=SAFE_TEXT, name=SAFE_TEXT)
def test_urls_and_strings_round_trip(layline, seed_config, hostname, name):
    extra = {"custom": {"url": f"jdbc:mysql://{hostname}/{name}?a=${{b}}#c", "text": name}}
    seed_config["extra_config"]["reactive_engine"] = extra
    conf = _render_engine(layline, seed_config)
    assert conf["custom.url"] == extra["custom"]["url"]
    assert conf["custom.text"] == name


@FAST
@given(
    values=st.dictionaries(SAFE_KEY, SAFE_TEXT | st.integers() | st.booleans(), max_size=5),
    dotted=st.lists(SAFE_KEY, min_size=1, max_size=3),
)
def test_special_keys_round_trip(layline, seed_config, values, dotted):
    literal = {f'"{key}"': value for key, value in values.items()}
    seed_config["extra_config"]["reactive_engine"] = {
        "custom": literal,
        "path." + ".".join(dotted): "leaf",
    }
    text = layline._render_text("reactive-engine", seed_config, "ll-node-1")  # raises on mismatch
    data = layline_hocon.plain(_parse(text))
    assert data["custom"] == values
    node = data["path"]
    for segment in dotted:
        node = node[segment]
    assert node == "leaf"
