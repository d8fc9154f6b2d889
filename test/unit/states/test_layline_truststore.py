"""The JDBC truststore and the TLS of layline_db's own connections.

The JKS writer is ours; the judge is the JDK's own ``keytool`` (setup-host installs
default-jdk-headless): it must list the CA as a trustedCertEntry with the CA's
fingerprint, and refuse the file under another password (the checksum is real).
"""

import base64
import grp
import os
import pathlib
import re
import shutil
import ssl
import subprocess

import pytest
import unitsupport
from pkisupport import CA
from salt.exceptions import CommandExecutionError

ROOT = pathlib.Path(__file__).resolve().parents[3]
PASSWORD = "changeit"  # noqa: S105 - the public truststore password the JDBC URL names
KEYTOOL = shutil.which("keytool")
needs_keytool = pytest.mark.skipif(
    KEYTOOL is None,
    reason="needs the JDK's keytool (test/setup-host installs default-jdk-headless)",
)


_load = unitsupport.load_file


@pytest.fixture
def db():
    mod = _load("_modules/layline_db.py", "layline_db_truststore_test")
    mod.__salt__ = unitsupport.salt_functions(unitsupport.load_module())
    mod.__opts__ = {"test": False, "id": "ll-node-1"}
    return mod


@pytest.fixture
def state(db):
    st = _load("_states/layline_db.py", "layline_db_state_truststore_test")
    st.__salt__ = {"layline_db.truststore_data": db.truststore_data}
    st.__opts__ = {"test": False}
    return st


def _keytool_list(path, password=PASSWORD):
    return subprocess.run(
        [KEYTOOL, "-list", "-keystore", str(path), "-storepass", password, "-storetype", "JKS"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _write(db, ca_path, target):
    target.write_bytes(base64.b64decode(db.truststore_data(str(ca_path))))
    return target


@needs_keytool
def test_keytool_lists_the_ca_as_a_trusted_certificate(db, tmp_path):
    ca = CA(tmp_path / "pki")
    store = _write(db, ca.path, tmp_path / "truststore.jks")
    out = _keytool_list(store)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "contains 1 entry" in out.stdout
    assert re.search(r"^layline-ca, .*, trustedCertEntry,", out.stdout, re.M), out.stdout
    assert f"(SHA-256): {ca.fingerprint()}" in out.stdout


@needs_keytool
def test_keytool_refuses_another_password(db, tmp_path):
    ca = CA(tmp_path / "pki")
    store = _write(db, ca.path, tmp_path / "truststore.jks")
    out = _keytool_list(store, password="not-the-password")  # noqa: S106 - a wrong one
    assert out.returncode != 0
    assert "password was incorrect" in out.stdout + out.stderr


@needs_keytool
def test_every_certificate_of_the_pem_is_trusted(db, tmp_path):
    first, second = CA(tmp_path / "a", "CA one"), CA(tmp_path / "b", "CA two")
    bundle = tmp_path / "bundle.crt"
    bundle.write_bytes(first.pem + second.pem)
    out = _keytool_list(_write(db, bundle, tmp_path / "truststore.jks"))
    assert out.returncode == 0, out.stderr
    assert "contains 2 entries" in out.stdout
    for ca in (first, second):
        assert ca.fingerprint() in out.stdout


def test_same_ca_same_bytes_other_ca_other_bytes(db, tmp_path):
    ca = CA(tmp_path / "a")
    assert db.truststore_data(str(ca.path)) == db.truststore_data(str(ca.path))
    assert db.truststore_data(str(CA(tmp_path / "b").path)) != db.truststore_data(str(ca.path))


def test_unreadable_ca_is_a_clear_error(db, tmp_path):
    with pytest.raises(CommandExecutionError, match="Cannot read the CA certificate"):
        db.truststore_data(str(tmp_path / "missing.crt"))
    (tmp_path / "junk.crt").write_text("not a certificate\n")
    with pytest.raises(CommandExecutionError, match="junk.crt"):
        db.truststore_data(str(tmp_path / "junk.crt"))


# ------------------------------------------------------------------ the state


def test_state_writes_once_then_has_nothing_to_do(state, tmp_path):
    ca = CA(tmp_path / "pki")
    target = tmp_path / "truststore.jks"
    group = grp.getgrgid(os.getgid()).gr_name
    kwargs = {"ca": str(ca.path), "user": "root", "group": group, "mode": "0640"}
    state.__opts__["test"] = True
    ret = state.truststore_present(str(target), **kwargs)
    assert ret["result"] is None and ret["changes"] == {"truststore": "created"}
    assert not target.exists()
    state.__opts__["test"] = False
    ret = state.truststore_present(str(target), **kwargs)
    assert ret["result"] is True and ret["changes"] == {"truststore": "created"}
    assert oct(target.stat().st_mode & 0o777) == "0o640"
    assert ret == dict(ret, name=str(target))
    again = state.truststore_present(str(target), **kwargs)
    assert again["result"] is True and again["changes"] == {}
    target.chmod(0o644)
    fixed = state.truststore_present(str(target), **kwargs)
    assert fixed["changes"] == {"truststore": "updated"}
    assert oct(target.stat().st_mode & 0o777) == "0o640"


def test_state_follows_a_new_ca(state, db, tmp_path):
    target = tmp_path / "truststore.jks"
    group = grp.getgrgid(os.getgid()).gr_name
    first, second = CA(tmp_path / "a"), CA(tmp_path / "b")
    state.truststore_present(str(target), ca=str(first.path), group=group)
    ret = state.truststore_present(str(target), ca=str(second.path), group=group)
    assert ret["changes"] == {"truststore": "updated"}
    assert target.read_bytes() == base64.b64decode(db.truststore_data(str(second.path)))


def test_state_fails_clearly_without_the_ca(state, tmp_path):
    ret = state.truststore_present(str(tmp_path / "t.jks"), ca=str(tmp_path / "none.crt"))
    assert ret["result"] is False and "Cannot build the truststore" in ret["comment"]
    assert not (tmp_path / "t.jks").exists()
    # test=True on a bare minion: layline.tls would make the CA first in the same run
    state.__opts__["test"] = True
    ret = state.truststore_present(str(tmp_path / "t.jks"), ca=str(tmp_path / "none.crt"))
    assert ret["result"] is None and "not there yet" in ret["comment"]
    assert not (tmp_path / "t.jks").exists()


def test_state_replaces_a_planted_link_and_never_writes_through_it(state, tmp_path):
    ca = CA(tmp_path / "pki")
    victim = tmp_path / "victim"
    victim.write_text("root-only data\n")
    target = tmp_path / "truststore.jks"
    target.symlink_to(victim)
    group = grp.getgrgid(os.getgid()).gr_name
    ret = state.truststore_present(str(target), ca=str(ca.path), group=group)
    assert ret["result"] is True and ret["changes"] == {"truststore": "created"}
    assert victim.read_text() == "root-only data\n"
    assert target.is_file() and not target.is_symlink()
    assert oct(target.stat().st_mode & 0o777) == "0o640"


def test_state_refuses_a_directory_linked_by_another_user(state, tmp_path):
    ca = CA(tmp_path / "pki")
    real = tmp_path / "elsewhere"
    real.mkdir()
    (tmp_path / "tls").symlink_to(real)
    # a link the service user planted (root's own links are trusted, as in /etc)
    os.lchown(tmp_path / "tls", 65534, 65534)
    group = grp.getgrgid(os.getgid()).gr_name
    target = tmp_path / "tls" / "truststore.jks"
    ret = state.truststore_present(str(target), ca=str(ca.path), group=group)
    assert ret["result"] is False and "symbolic link" in ret["comment"]
    assert not list(real.iterdir())


# ------------------------------------------------------------------ account TLS state


def test_account_tls_state_converges_and_honours_test_mode(db):
    st = _load("_states/layline_db.py", "layline_db_state_account_test")
    calls = []
    current = {"value": False}
    st.__salt__ = {
        "layline_db.account_requires_tls": lambda user, host, **kw: current["value"],
        "layline_db.set_account_tls": lambda user, host, required, **kw: calls.append(
            (user, host, required, kw)
        ),
    }
    st.__opts__ = {"test": True}
    ret = st.account_tls("layline", "10.0.0.5", connection_user="root")
    assert ret["result"] is None and ret["changes"] == {"require": "REQUIRE SSL"} and not calls
    st.__opts__["test"] = False
    ret = st.account_tls("layline", "10.0.0.5", connection_user="root")
    assert ret["result"] is True and calls == [
        ("layline", "10.0.0.5", True, {"connection_user": "root"})
    ]
    current["value"] = True
    assert st.account_tls("layline", "10.0.0.5")["changes"] == {}
    ret = st.account_tls("layline", "10.0.0.5", required=False)
    assert ret["changes"] == {"require": "REQUIRE NONE"} and calls[-1][2] is False
    current["value"] = None
    assert st.account_tls("layline", "nowhere")["result"] is False


# ------------------------------------------------------------------ Salt's own connection


def _config(tls, **database):
    base = {
        "backend": "mysql",
        "hostname": "ll-mysql.orb.local",
        "port": 3306,
        "name": "layline",
        "user": "layline",
        "password": "pw",
        "tls": tls,
    }
    return {"database": dict(base, **database), "config_dir": "/etc/layline"}


def test_salt_connection_trusts_only_the_cluster_ca_and_checks_the_name(db, tmp_path):
    ca = CA(tmp_path / "tls")
    config = _config("verify-identity", **{})
    config["config_dir"] = str(tmp_path)
    args = db._connect_args(config)
    context = args["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname is True and context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    subjects = [dict(item[0] for item in c["subject"]) for c in context.get_ca_certs()]
    assert subjects == [{"commonName": "layline test CA"}]
    assert ca.path == tmp_path / "tls" / "ca.crt"


def test_salt_connection_without_the_ca_says_what_to_apply(db, tmp_path):
    config = _config("verify-identity")
    config["config_dir"] = str(tmp_path)
    with pytest.raises(CommandExecutionError, match=r"ca\.crt is missing.*layline\.tls"):
        db._connect_args(config)


def test_salt_connection_without_tls_is_plain(db):
    args = db._connect_args(_config("disabled"))
    assert args["ssl_disabled"] is True and "ssl" not in args
