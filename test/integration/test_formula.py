"""
The formula against a real salt-master and salt-minions (salt-factories).

- every SLS renders for each scenario pillar and minion role;
- ``state.apply layline test=True`` on the single host predicts changes only;
- an invalid pillar fails the validation, naming the keys, and nothing else runs
  (also without test=True: nothing changes on the minion);
- the database password never appears in state output;
- the custom states (config_managed, cluster_definition_managed,
  restart_pending) really applied to temporary paths: correct and idempotent.
"""

import grp
import hashlib
import json
import os
import pathlib
import pwd
import shutil
import stat
import textwrap
import time
import uuid

import pyhocon
import pytest
import yaml

PILLARS = pathlib.Path(__file__).resolve().parents[1] / "pillar"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="salt-minion must run as root")

SEED_PASSWORD = yaml.safe_load((PILLARS / "seed" / "layline.sls").read_text())["layline"][
    "database"
]["password"]


def _states(ret, minion_id):
    data = ret.data
    if isinstance(data, dict) and minion_id in data:
        data = data[minion_id]
    assert isinstance(data, dict), f"no state data from {minion_id}: {ret}"
    return data


def _by_id(states):
    """{state id: result} of a state.apply return (keys are 'mod_|-id_|-name_|-fun')."""
    return {key.split("_|-")[1]: value for key, value in states.items()}


def _show_ids(salt_cli, minion_id):
    ret = salt_cli.run("state.show_sls", "layline", minion_tgt=minion_id)
    data = _states(ret, minion_id)
    assert isinstance(data, dict) and not isinstance(data, list), data
    return set(data)


def _assert_secret_absent(text, secret):
    for form in (secret, json.dumps(secret)[1:-1]):
        assert form not in text, "the database password leaked into the output"


@pytest.fixture
def tiny_installer(tmp_path):
    """A stand-in installer (never executed under test=True) and its sha256."""
    path = tmp_path / "layline-linux-amd64-2.5.4.sh"
    path.write_text("#!/bin/sh\necho 'layline stand-in installer'\n")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"source": path.as_uri(), "source_hash": f"sha256={digest}"}


def test_sync_all_brings_the_custom_modules(synced):
    for minion_id, result in synced.items():
        assert "states.layline" in result["states"], minion_id
        assert "modules.layline" in result["modules"], minion_id


def test_single_renders_every_concern(salt_cli, use_pillar):
    use_pillar("single")
    ids = _show_ids(salt_cli, "ll-single")
    expected = {
        "layline-validate-layline-validated",
        "layline-install-user-present",
        "layline-install-file-managed",
        "layline-install-cmd-run",
        "layline-config-layline-config_managed-config-server",
        "layline-config-layline-config_managed-engine",
        "layline-cluster-layline-cluster_definition_managed",
        "layline-service-service-running-config-server",
        "layline-service-service-running-engine",
    }
    assert expected <= ids, expected - ids
    # H2, one engine: no database role, no schema, restarts instead of markers
    assert "layline-service-layline-restart_pending" not in ids
    assert "layline-service-layline_db-tables_present" not in ids


def test_seed_renders_per_role(salt_cli, use_pillar):
    use_pillar("seed")
    node = _show_ids(salt_cli, "ll-node-1")
    assert {
        "layline-config-layline-config_managed-engine",
        "layline-service-layline_db-tables_present",
        "layline-service-layline-restart_pending",
        "layline-service-service-running-engine",
    } <= node
    assert "layline-config-layline-config_managed-config-server" not in node
    assert "layline-cluster-layline-cluster_definition_managed" not in node

    server = _show_ids(salt_cli, "ll-config-server")
    assert {
        "layline-config-layline-config_managed-config-server",
        "layline-cluster-layline-cluster_definition_managed",
        "layline-service-service-running-config-server",
    } <= server
    assert "layline-config-layline-config_managed-engine" not in server
    assert any(sid.startswith("layline-schema-") for sid in server), server

    database = _show_ids(salt_cli, "ll-mysql")
    assert "layline-validate-layline-validated" in database
    assert not any(sid.startswith(("layline-install-", "layline-service-")) for sid in database)
    assert any(sid.startswith("layline-mysql-") for sid in database), database
    assert {
        "layline-backup-file-managed-options",
        "layline-backup-file-managed-service",
        "layline-backup-service-running-timer",
    } <= database, database
    assert not any(sid.startswith("layline-backup-") for sid in node | server)
    # the seed pillar's monitoring role: Prometheus and the node exporter on ll-mysql only
    assert {
        "layline-monitoring-prometheus-file-managed-config",
        "layline-monitoring-prometheus-file-managed-rules",
        "layline-monitoring-prometheus-service-running",
        "layline-monitoring-node_exporter-service-running",
    } <= database
    assert not any(sid.startswith("layline-monitoring-") for sid in node | server)


def test_seed_first_seed_node_unit_has_the_start_gate(salt_cli, use_pillar):
    """ll-node-1 is the first seed node: its unit records a failed end and gates the restart."""
    use_pillar("seed")
    ret = salt_cli.run("state.show_sls", "layline", minion_tgt="ll-node-1")
    unit = _states(ret, "ll-node-1")["layline-service-file-managed-engine"]["file"]
    context = next(arg["context"] for arg in unit if isinstance(arg, dict) and "context" in arg)
    gate = "/usr/local/lib/layline-formula/seed-gate"
    marker = "/var/lib/layline/.layline/reactive-engine/ended-in-failure"
    assert context["exec_start_pre"] == [[gate, "check", marker, "ll-node-2.orb.local:5843"]]
    assert context["exec_stop_post"] == [[gate, "record", marker]]


@pytest.mark.parametrize("minion_id", ["ll-node-1", "ll-config-server", "ll-mysql"])
def test_no_password_in_state_data_of_any_role(salt_cli, use_pillar, minion_id):
    """The states read the model on the minion: no SLS passes it (or the password) as data."""
    use_pillar("seed")
    for function in ("state.show_sls", "state.show_low_sls"):
        ret = salt_cli.run(function, "layline", minion_tgt=minion_id)
        assert ret.data, ret
        _assert_secret_absent(ret.stdout, SEED_PASSWORD)
        assert '"config":' not in json.dumps(ret.data)


def test_modules_read_the_unmasked_model_and_show_it_masked(salt_cli, use_pillar):
    """Without config the modules read the real model on the minion (pillar.get would give
    masked values in module context) and mask the password in what they return."""
    use_pillar("seed")
    ret = salt_cli.run("layline.mapdata", minion_tgt="ll-node-1")
    _assert_secret_absent(ret.stdout, SEED_PASSWORD)
    assert ret.data["database"]["password"] == "******"  # noqa: S105 - the mask
    assert ret.data["database"]["hostname"] == "ll-mysql.orb.local"
    ret = salt_cli.run("layline_db.describe", minion_tgt="ll-node-1")
    assert ret.data == "MySQL at ll-mysql.orb.local:3306 as user 'layline' (database 'layline')"
    ret = salt_cli.run("layline.render", "reactive-engine", minion_tgt="ll-node-1")
    _assert_secret_absent(ret.stdout, SEED_PASSWORD)
    assert 'password = "******"' in ret.data


def test_single_apply_test_mode_predicts_only(salt_cli, use_pillar, tiny_installer):
    use_pillar("single")
    secret = 'Si"ng\\le${x}#pw'  # noqa: S105 - a test value
    pillar = {"layline": {"distribution": tiny_installer, "database": {"password": secret}}}
    ret = salt_cli.run(
        "state.apply",
        "layline",
        "test=True",
        f"pillar={json.dumps(pillar)}",
        minion_tgt="ll-single",
    )
    states = _by_id(_states(ret, "ll-single"))
    failed = {sid: s["comment"] for sid, s in states.items() if s["result"] is False}
    assert not failed, failed
    assert states["layline-validate-layline-validated"]["result"] is True
    assert states["layline-install-cmd-run"]["result"] is None
    assert states["layline-config-layline-config_managed-engine"]["result"] is None
    _assert_secret_absent(ret.stdout, secret)
    assert not pathlib.Path("/etc/systemd/system/layline-reactive-engine.service").exists()


@pytest.mark.parametrize("minion_id", ["ll-node-1", "ll-config-server"])
def test_seed_apply_test_mode_keeps_the_password_out(
    salt_cli, use_pillar, minion_id, simulator_dist
):
    use_pillar("seed")
    ret = salt_cli.run("state.apply", "layline", "test=True", minion_tgt=minion_id)
    states = _by_id(_states(ret, minion_id))
    assert states["layline-validate-layline-validated"]["result"] is True
    _assert_secret_absent(ret.stdout, SEED_PASSWORD)
    failed = {sid: s["comment"] for sid, s in states.items() if s["result"] is False}
    assert not failed, failed


def _assert_bad_pillar_blocked(ret, minion_id):
    assert ret.returncode != 0
    states = _by_id(_states(ret, minion_id))
    validated = states.pop("layline-validate-layline-validated")
    assert validated["result"] is False
    assert "min_nr_of_members" in validated["comment"]
    assert "hostname" in validated["comment"]
    _assert_secret_absent(ret.stdout, SEED_PASSWORD)
    # test=True disables failhard: then every other state fails its requisite
    # (or, onchanges, is not run); without test=True failhard stops the run.
    ran = {
        sid: s
        for sid, s in states.items()
        if s.get("changes")
        or (s.get("result") is not False and "was not run" not in s.get("comment", ""))
    }
    assert not ran, f"states ran despite the invalid pillar: {sorted(ran)}"
    return states


def test_bad_pillar_fails_validation_in_test_mode(salt_cli, use_pillar):
    use_pillar("bad")
    ret = salt_cli.run("state.apply", "layline", "test=True", minion_tgt="ll-node-1")
    _assert_bad_pillar_blocked(ret, "ll-node-1")


def test_bad_pillar_changes_nothing(salt_cli, use_pillar, tmp_path, tiny_installer):
    """A real apply (no test=True) with all paths and the account redirected."""
    use_pillar("bad")
    user = "llbadtest"
    pillar = {
        "layline": {
            "distribution": dict(tiny_installer, cache_dir=str(tmp_path / "cache")),
            "install_dir": str(tmp_path / "opt"),
            "home": str(tmp_path / "home"),
            "user": user,
            "group": user,
        }
    }
    try:
        ret = salt_cli.run(
            "state.apply", "layline", f"pillar={json.dumps(pillar)}", minion_tgt="ll-node-1"
        )
        others = _assert_bad_pillar_blocked(ret, "ll-node-1")
        assert not others, f"failhard did not stop the run: {sorted(others)}"
        assert not any((tmp_path / sub).exists() for sub in ("cache", "opt", "home"))
        with pytest.raises(KeyError):
            pwd.getpwnam(user)
        with pytest.raises(KeyError):
            grp.getgrnam(user)
    finally:
        os.system(f"userdel {user} >/dev/null 2>&1; groupdel {user} >/dev/null 2>&1")  # noqa: S605


@pytest.fixture
def custom_states_sls(extra_states_tree, tmp_path):
    """llt/custom.sls: the formula's custom states against tmp paths; they read the
    model (with the password) on the minion themselves."""
    (extra_states_tree / "llt").mkdir(exist_ok=True)
    (extra_states_tree / "llt" / "custom.sls").write_text(
        textwrap.dedent(
            f"""\
            {{%- set tpldir = 'layline' %}}
            {{%- from 'layline/map.jinja' import mapdata as config with context %}}
            llt-engine-conf:
              layline.config_managed:
                - name: {tmp_path}/engine/application.conf
                - role: reactive-engine
                - group: root
            llt-cluster-definition:
              layline.cluster_definition_managed:
                - name: {tmp_path}/clusters/{{{{ config.cluster.name }}}}.json
                - user: root
                - group: root
            llt-restart-pending:
              layline.restart_pending:
                - name: layline-reactive-engine
                - directory: {tmp_path}/pending
                - reason: test reason
                - version: 2.5.5
                - onchanges:
                  - layline: llt-engine-conf
            """
        )
    )
    return tmp_path


def test_custom_states_apply_and_are_idempotent(salt_cli, use_pillar, custom_states_sls):
    use_pillar("seed")
    base = custom_states_sls

    ret = salt_cli.run("state.apply", "llt.custom", minion_tgt="ll-node-1")
    first = _by_id(_states(ret, "ll-node-1"))
    assert all(s["result"] is True for s in first.values()), first
    _assert_secret_absent(ret.stdout, SEED_PASSWORD)
    assert first["llt-engine-conf"]["changes"]
    assert first["llt-restart-pending"]["changes"]

    conf = base / "engine" / "application.conf"
    assert stat.S_IMODE(conf.stat().st_mode) == 0o640
    parsed = pyhocon.ConfigFactory.parse_string(conf.read_text())
    db = parsed.get("pekko-persistence-jdbc.shared-databases.mysql.db")
    assert db.get("password") == SEED_PASSWORD
    assert parsed.get("pekko.remote.artery.canonical.hostname") == "ll-node-1.orb.local"

    definition = json.loads((base / "clusters" / "Production.json").read_text())
    assert definition["@type"] == "deploy/cluster"
    assert definition["name"] == "Production"
    assert [n["data"] for n in definition["bootstrapNodes"]] == [
        "http://ll-node-1.orb.local:5842",
        "http://ll-node-2.orb.local:5842",
    ]
    assert all(n["modifier"] == "add" for n in definition["bootstrapNodes"])
    assert all(uuid.UUID(n["uuid"]).version == 5 for n in definition["bootstrapNodes"])

    marker_file = base / "pending" / "layline-reactive-engine.json"
    marker = json.loads(marker_file.read_text())
    assert marker["reasons"] == ["test reason"] and marker["version"] == "2.5.5"
    assert marker["written"].endswith("Z")
    assert stat.S_IMODE(marker_file.stat().st_mode) == 0o644

    marker_file.unlink()
    ret = salt_cli.run("state.apply", "llt.custom", minion_tgt="ll-node-1")
    second = _by_id(_states(ret, "ll-node-1"))
    assert all(s["result"] is True and not s["changes"] for s in second.values()), second
    assert not marker_file.exists()


def test_custom_states_honour_test_mode(salt_cli, use_pillar, custom_states_sls):
    use_pillar("seed")
    ret = salt_cli.run("state.apply", "llt.custom", "test=True", minion_tgt="ll-node-1")
    states = _by_id(_states(ret, "ll-node-1"))
    assert states["llt-engine-conf"]["result"] is None
    assert states["llt-cluster-definition"]["result"] is None
    assert not any(custom_states_sls.joinpath(p).exists() for p in ("engine", "clusters"))
    _assert_secret_absent(ret.stdout, SEED_PASSWORD)


# ---------------------------------------------------------------- behaviours an operator relies on


def _low(salt_cli, minion_id, sls="layline"):
    ret = salt_cli.run("state.show_low_sls", sls, minion_tgt=minion_id)
    chunks = ret.data.get(minion_id, ret.data) if isinstance(ret.data, dict) else ret.data
    assert isinstance(chunks, list) and chunks, f"no low data from {minion_id}: {ret}"
    return chunks


def _requisites(chunk, kind):
    """A chunk's requisites of one kind as (module, id or sls) pairs."""
    return {(mod, ref) for item in chunk.get(kind, []) for mod, ref in item.items()}


def test_seed_engine_is_restarted_only_through_the_marker(salt_cli, use_pillar):
    """Multi-node: state.apply never restarts an engine (README); a change writes the marker."""
    use_pillar("seed")
    chunks = _low(salt_cli, "ll-node-1")
    # the restart marker state is named after the unit too: it is checked below
    engine = [
        c
        for c in chunks
        if c["name"] == "layline-reactive-engine"
        and (c["state"], c["fun"]) != ("layline", "restart_pending")
    ]
    assert [(c["state"], c["fun"]) for c in engine] == [("service", "running")], engine
    for kind in ("watch", "listen", "onchanges", "onchanges_any", "reload_modules"):
        assert not engine[0].get(kind), f"the engine's service.running has {kind}: {engine[0]}"
    assert not any(
        c["state"] == "module" or (c["state"] == "cmd" and "restart" in c["name"]) for c in chunks
    ), "some state can restart a unit"
    marker = [c for c in chunks if (c["state"], c["fun"]) == ("layline", "restart_pending")]
    assert len(marker) == 1, chunks
    triggers = _requisites(marker[0], "onchanges")
    assert {("sls", "layline.config.engine"), ("sls", "layline.install")} <= triggers, triggers


def test_seed_engine_starts_only_after_the_schema(salt_cli, use_pillar):
    use_pillar("seed")
    chunks = _low(salt_cli, "ll-node-1")
    engine = next(
        c for c in chunks if (c["state"], c["name"]) == ("service", "layline-reactive-engine")
    )
    gate = next(c for c in chunks if (c["state"], c["fun"]) == ("layline_db", "tables_present"))
    assert ("layline_db", gate["__id__"]) in _requisites(engine, "require"), engine
    assert gate["order"] < engine["order"]


def test_seed_grants_name_only_the_layline_database(salt_cli, use_pillar):
    use_pillar("seed")
    chunks = _low(salt_cli, "ll-mysql")
    grants = [c for c in chunks if c["state"] == "mysql_grants"]
    assert grants, "no grants"
    assert {c["database"] for c in grants} == {"layline.*"}, grants
    assert all(
        c["user"] == "layline"
        and "GRANT OPTION" not in str(c["grant"]).upper()
        and not c.get("grant_option")
        for c in grants
    ), grants
    queries = [
        c
        for c in chunks
        if c["state"] == "mysql_query" and "GRANT" in str(c.get("query", "")).upper()
    ]
    assert not queries, queries


def _policies_pillar(pillar_tree, salt_cli, text):
    """An operator's own x509_signing_policies pillar file, for the CA minion only."""
    (pillar_tree / "x509.sls").write_text(text)
    (pillar_tree / "top.sls").write_text(
        "base:\n  '*':\n    - layline\n  ll-config-server:\n    - x509\n"
    )
    assert salt_cli.run("saltutil.refresh_pillar", "wait=True", minion_tgt="*").returncode == 0


def test_remote_signing_names_what_is_missing(salt_cli, use_pillar, pillar_tree):
    """Through the real master's peer interface (its `peer` config allows the call)."""
    use_pillar("seed")
    # the policies as the CA minion generates them (this pillar adds the lab's addresses)
    ret = salt_cli.run("layline_tls.signing_pillar", minion_tgt="ll-config-server")
    assert ret.returncode == 0 and ret.data.startswith("# Generated"), ret
    _policies_pillar(pillar_tree, salt_cli, ret.data)
    ret = salt_cli.run("layline_tls.signing_problems", minion_tgt="ll-config-server")
    assert ret.data == [], ret
    ret = salt_cli.run("layline.validate", minion_tgt="ll-config-server")
    assert ret.data["errors"] == [], ret
    # its CA is not made (no state.apply here): the node's own policy answers that
    ret = salt_cli.run("layline_tls.ca_certificate", "ll-config-server", minion_tgt="ll-node-1")
    assert "CA minion ll-config-server has no CA certificate yet" in ret.stdout, ret
    # the old catch-all policy of the README: refused on the CA minion, unknown to the nodes
    _policies_pillar(
        pillar_tree,
        salt_cli,
        "x509_signing_policies:\n  layline:\n    - minions: '*'\n"
        "    - signing_private_key: /etc/layline/ca/ca.key\n"
        "    - signing_cert: /etc/layline/tls/ca.crt\n",
    )
    ret = salt_cli.run("layline_tls.ca_certificate", "ll-config-server", minion_tgt="ll-node-1")
    assert (
        "CA minion ll-config-server has no signing policy 'layline-ll-node-1': its state.apply "
        "layline writes one"
    ) in ret.stdout, ret
    ret = salt_cli.run("layline.validate", minion_tgt="ll-config-server")
    assert ret.returncode != 0, ret
    assert [e.split(": ")[0] for e in ret.data["errors"]] == ["x509_signing_policies:layline"], ret
    # without policies in the pillar the CA minion is valid: the formula serves its own
    _policies_pillar(pillar_tree, salt_cli, "{}\n")
    ret = salt_cli.run("layline.validate", minion_tgt="ll-config-server")
    assert ret.data["errors"] == [], ret


def _grain_policies(salt_cli, minion, present):
    """Refresh ``minion``'s grains until its x509_signing_policies grain is there (or gone)."""
    for _ in range(60):
        salt_cli.run("saltutil.refresh_grains", "refresh_pillar=False", minion_tgt=minion)
        found = salt_cli.run("grains.get", "x509_signing_policies", minion_tgt=minion).data
        if bool(found) == present:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{minion}: grain x509_signing_policies present={not present}")


@pytest.fixture
def policy_file():
    """The CA minion's policy file (a fixed path of the host, where these minions run):
    removed at the end, with the directory when this test made it."""
    path = pathlib.Path("/var/lib/layline-formula/x509_signing_policies.json")
    made_dir = not path.parent.exists()
    if path.exists():
        pytest.fail(f"{path} exists on this host: not this test's to replace")
    yield path
    path.unlink(missing_ok=True)
    if made_dir:
        shutil.rmtree(path.parent, ignore_errors=True)


def test_the_ca_minion_serves_its_generated_policies_as_a_grain(
    salt_cli, use_pillar, pillar_tree, policy_file
):
    """layline_tls.signing_policies_managed through the real minion: the root-only file, then
    the grain the real x509_v2 reads (config.get); a second run changes nothing."""
    use_pillar("seed")
    ca = "ll-config-server"
    try:
        args = ["layline_tls.signing_policies_managed", "name=x509_signing_policies"]
        ret = salt_cli.run("state.single", *args, minion_tgt=ca)
        assert ret.returncode == 0, ret
        (state,) = ret.data.values()
        assert state["changes"]["policies"] == [
            f"layline-{m}" for m in ("ll-mysql", "ll-node-1", "ll-node-2")
        ], state
        assert oct(policy_file.stat().st_mode & 0o777) == "0o600"
        served = _grain_policies(salt_cli, ca, present=True)
        assert served == salt_cli.run("layline_tls.signing_policies", minion_tgt=ca).data
        ret = salt_cli.run("state.single", *args, minion_tgt=ca)
        (state,) = ret.data.values()
        assert state["result"] is True and state["changes"] == {}, state
    finally:
        policy_file.unlink(missing_ok=True)
        _grain_policies(salt_cli, ca, present=False)


def test_the_real_ca_signs_only_what_the_minions_policy_fixes(
    salt_cli, use_pillar, pillar_tree, tmp_path, policy_file
):
    """Salt's x509_v2 on a real CA minion, asked through the master by a real minion
    (``__pub_id`` set by the master), with the policies served by the CA minion's grain as
    the formula writes them: the database minion asks for the engines' CN, an engine's
    names, a CA certificate and 100 years, and gets its own certificate only; it cannot use
    an engine's policy at all."""
    from cryptography import x509

    use_pillar("seed")
    tmp_path.chmod(0o700)
    ca_key, ca_cert, key = (str(tmp_path / n) for n in ("ca.key", "ca.crt", "mysql.key"))
    ca = "ll-config-server"
    assert salt_cli.run("x509.create_private_key", f"path={ca_key}", minion_tgt=ca).returncode == 0
    ret = salt_cli.run(
        "x509.create_certificate",
        f"signing_private_key={ca_key}",
        "CN=integration CA",
        "basicConstraints=critical, CA:TRUE",
        f"path={ca_cert}",
        minion_tgt=ca,
    )
    assert ret.returncode == 0, ret
    policies = salt_cli.run("layline_tls.signing_policies", minion_tgt=ca).data
    assert set(policies) == {f"layline-{m}" for m in ("ll-mysql", "ll-node-1", "ll-node-2")}
    for policy in policies.values():  # the formula's policies, with this test's CA files
        policy.update(signing_private_key=ca_key, signing_cert=ca_cert)
    policy_file.parent.mkdir(mode=0o755, exist_ok=True)
    policy_file.write_text(json.dumps(policies))
    policy_file.chmod(0o600)
    _grain_policies(salt_cli, ca, present=True)
    assert (
        salt_cli.run("x509.create_private_key", f"path={key}", minion_tgt="ll-mysql").returncode
        == 0
    )
    greedy = [
        "ca_server=ll-config-server",
        f"private_key={key}",
        "CN=layline-Production-engine",
        "O=layline",
        "subjectAltName=DNS:ll-node-1.orb.local, DNS:ll-mysql.orb.local",
        "basicConstraints=critical, CA:TRUE",
        "days_valid=36500",
        "not_after='2099-01-01 00:00:00'",
    ]
    ret = salt_cli.run(
        "x509.create_certificate", "signing_policy=layline-ll-mysql", *greedy, minion_tgt="ll-mysql"
    )
    assert ret.returncode == 0, ret
    cert = x509.load_pem_x509_certificate(ret.data.encode())
    assert cert.subject.rfc4514_string() == "CN=ll-mysql.orb.local"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["ll-mysql.orb.local"], san
    assert "ll-node-1.orb.local" not in str(san)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days <= 730
    ret = salt_cli.run(
        "x509.create_certificate",
        "signing_policy=layline-ll-node-1",
        *greedy,
        minion_tgt="ll-mysql",
    )
    assert "minion not permitted to use specified signing policy" in ret.stdout, ret
    policy_file.unlink()
    _grain_policies(salt_cli, ca, present=False)


def _database_chunks(salt_cli, minion_id):
    chunks = _low(salt_cli, minion_id)
    return {c["__id__"]: c for c in chunks if c["__id__"].startswith("layline-mysql-")}


def test_mysql_tls_states_on_a_database_only_and_a_shared_minion(salt_cli, use_pillar, pillar_tree):
    """database:tls verify-identity: MariaDB is configured after, and restarted on, the node's
    key and certificate (by state ID, no requisite cycle with layline.tls); the accounts get
    REQUIRE SSL; on a minion that also runs layline the server account joins the service
    group that may read node.key."""
    use_pillar("seed")
    only = _database_chunks(salt_cli, "ll-mysql")
    tls_ids = {
        ("layline_tls", "layline-tls-layline_tls-private_key_managed"),
        ("layline_tls", "layline-tls-layline_tls-certificate_managed"),
    }
    assert tls_ids <= _requisites(only["layline-mysql-file-managed-server-config"], "require")
    assert tls_ids <= _requisites(only["layline-mysql-service-running"], "watch")
    present = [
        c for c in only.values() if c["state"] == "layline_db" and c["fun"] == "account_present"
    ]
    # the password's hash is computed inside the state (issue 18): never state data
    assert present and not any("password_hash" in c for c in present), present
    users = {c["host"] for c in present}
    accounts = [
        c for c in only.values() if c["state"] == "layline_db" and c["fun"] == "account_tls"
    ]
    # one REQUIRE SSL state per account of the layline user
    assert users and {c["host"] for c in accounts} == users, (users, accounts)
    assert all(c["required"] is True for c in accounts), accounts
    assert "layline-mysql-group-present-key-reader" not in only
    shared = yaml.safe_load((pillar_tree / "layline.sls").read_text())
    shared["layline"]["database"]["minion"] = "ll-config-server"
    (pillar_tree / "layline.sls").write_text(yaml.safe_dump(shared))
    assert salt_cli.run("saltutil.refresh_pillar", "wait=True", minion_tgt="*").returncode == 0
    both = _database_chunks(salt_cli, "ll-config-server")
    reader = both["layline-mysql-group-present-key-reader"]
    assert (reader["name"], reader["addusers"]) == ("layline", ["mysql"])
    assert ("group", "layline-mysql-group-present-key-reader") in _requisites(
        both["layline-mysql-service-running"], "watch"
    )
