"""The layline.python support: pinned requirements, the in-process check, layline:python
validation, exit codes of validate, and the module loading without pyhocon."""

import builtins
import sys

import pytest
from salt.exceptions import CommandExecutionError
from unitsupport import ROOT, SEED_PILLAR, load_module

REQUIREMENTS = ROOT / "layline" / "python" / "files" / "requirements.txt"
sys.path.insert(0, str(ROOT / "test" / "lab"))
from lablib import pyindex  # noqa: E402  (the lab's package index helpers)


def test_shipped_requirements_pin_every_package_with_a_hash(layline):
    pins = layline._requirement_pins(REQUIREMENTS.read_text())
    names = {name.lower() for name, _version in pins}
    assert {"pyhocon", "pyparsing", "pymysql", "saltext.mysql", "sqlparse"} <= names
    # every requirement line carries its sha256 (pip --require-hashes refuses it otherwise)
    entries = REQUIREMENTS.read_text().replace("\\\n", " ").splitlines()
    entries = [e for e in entries if e.strip() and not e.lstrip().startswith("#")]
    assert len(entries) == len(pins)
    for entry in entries:
        assert "--hash=sha256:" in entry, entry


def test_requirement_pins_parse_continuations_and_skip_options(layline):
    text = (
        "# comment\n--index-url https://pypi.example.com/simple/\n"
        "foo.bar==1.2 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"
        "Baz_Qux==0.3.63  # trailing comment\n"
    )
    assert layline._requirement_pins(text) == [("foo.bar", "1.2"), ("Baz_Qux", "0.3.63")]


@pytest.mark.parametrize("line", ["pyhocon", "pyhocon>=0.3", "pyhocon==", "pyhocon[x]==1"])
def test_unpinned_requirement_is_an_error(layline, line):
    with pytest.raises(CommandExecutionError, match="NAME==VERSION"):
        layline._requirement_pins(line + "\n")


def test_python_missing_compares_installed_versions(layline, tmp_path, monkeypatch):
    req = tmp_path / "requirements.txt"
    req.write_text("a==1.0 --hash=sha256:00\nb==2.0 --hash=sha256:00\nc==3.0\n")
    installed = {"a": "1.0", "b": "1.9"}
    monkeypatch.setattr(layline, "_installed_version", installed.get)
    assert layline.python_missing(str(req)) == [
        "b==2.0 (installed: 1.9)",
        "c==3.0 (installed: none)",
    ]
    assert layline.python_ready(str(req)) is False
    installed.update(b="2.0", c="3.0")
    assert layline.python_missing(str(req)) == []
    assert layline.python_ready(str(req)) is True


def test_python_ready_reads_real_package_metadata(layline, tmp_path):
    import importlib.metadata

    version = importlib.metadata.version("pyyaml")
    req = tmp_path / "r.txt"
    req.write_text(f"PyYAML=={version}\n")
    assert layline.python_ready(str(req)) is True
    req.write_text("PyYAML==0.0.1\n")
    assert layline.python_ready(str(req)) is False


def test_python_missing_unreadable_file(layline, tmp_path):
    with pytest.raises(CommandExecutionError, match="cannot read"):
        layline.python_missing(str(tmp_path / "nope.txt"))
    # the unless check: not there yet (test=True on a first run) is "not ready", no error
    assert layline.python_ready(str(tmp_path / "nope.txt")) is False


@pytest.mark.parametrize(
    "key,value",
    [
        ("index_url", "ftp://mirror.example.com/simple/"),
        ("index_url", "pypi.example.com/simple"),
        ("extra_index_url", "https://"),
        ("extra_index_url", ["https://a.example.com/simple/"]),
        ("requirements", "/srv/requirements.txt"),
        ("requirements", None),
        # https only without allow_insecure_index (issue 18)
        ("index_url", "http://pypi.example.com/simple/"),
        ("extra_index_url", "http://10.231.7.1:8080/simple/"),
        ("requirements", "http://files.example.com/layline-requirements.txt"),
        ("allow_insecure_index", "yes"),
    ],
)
def test_bad_python_keys_are_named(layline, make_config, key, value):
    config = make_config(SEED_PILLAR, {"python": {key: value}})
    errors = layline._validate(config, "ll-node-1")[0]
    assert any(e.startswith(f"layline:python:{key}:") for e in errors), errors


def test_good_python_keys_and_unknown_key(layline, make_config):
    config = make_config(
        SEED_PILLAR,
        {
            "python": {
                "index_url": "https://10.231.7.1:8443/simple/",
                "extra_index_url": "https://pypi.example.com/simple/",
                "requirements": "https://files.example.com/layline-requirements.txt",
            }
        },
    )
    assert layline._validate(config, "ll-node-1")[0] == []
    config["python"]["packages"] = ["pyhocon"]
    errors = layline._validate(config, "ll-node-1")[0]  # unknown keys are errors (issue 8)
    assert any(e.startswith("layline:python:packages: unknown key") for e in errors), errors


def test_validate_sets_retcode_only_on_errors(layline, seed_config, make_config):
    layline.validate(seed_config)
    assert layline.__context__.get("retcode", 0) == 0
    result = layline.validate(make_config(SEED_PILLAR, {"user": "root"}))
    assert result["errors"]  # the data is still returned
    assert layline.__context__["retcode"] == 1


def test_module_loads_and_validates_without_pyhocon(monkeypatch, seed_config):
    real_import = builtins.__import__

    def no_pyhocon(name, *args, **kwargs):
        if name == "pyhocon" or name.startswith("pyhocon."):
            raise ImportError("No module named 'pyhocon'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "pyhocon", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_pyhocon)
    module = load_module("ll-node-1")
    assert module.__virtual__() == "layline"
    assert module.roles(config=seed_config) == ["engine"]
    assert module.validate(seed_config)["errors"] == []
    with pytest.raises(CommandExecutionError, match="layline.python"):
        module.render("reactive-engine", config=seed_config)


@pytest.mark.parametrize(
    "filename,project",
    [
        ("pyhocon-0.3.63.tar.gz", "pyhocon"),
        ("saltext.mysql-1.1.0-py2.py3-none-any.whl", "saltext-mysql"),
        ("PyMySQL-1.2.4-py3-none-any.whl", "pymysql"),
        ("typing_extensions-4.16.0-py3-none-any.whl", "typing-extensions"),
    ],
)
def test_index_project_names_are_pep503_normalized(filename, project):
    assert pyindex.project_name(filename) == project


def test_simple_index_links_files_with_their_sha256(tmp_path):
    import hashlib

    files = tmp_path / "files"
    files.mkdir()
    (files / "pyhocon-0.3.63.tar.gz").write_bytes(b"sdist")
    (files / "saltext.mysql-1.1.0-py2.py3-none-any.whl").write_bytes(b"wheel")
    pyindex.write_simple_index(tmp_path)
    page = (tmp_path / "simple" / "saltext-mysql" / "index.html").read_text()
    digest = hashlib.sha256(b"wheel").hexdigest()
    assert f'href="../../files/saltext.mysql-1.1.0-py2.py3-none-any.whl#sha256={digest}"' in page
    root = (tmp_path / "simple" / "index.html").read_text()
    assert 'href="pyhocon/"' in root and 'href="saltext-mysql/"' in root


def test_version_installed_compares_the_version_file(layline, tmp_path):
    assert layline.version_installed(str(tmp_path), "2.5.4") is False  # no VERSION yet
    (tmp_path / "VERSION").write_text("2.5.4\n")
    assert layline.version_installed(str(tmp_path), "2.5.4") is True
    assert layline.version_installed(str(tmp_path), "2.5.5") is False
    assert layline.version_installed(str(tmp_path), "2.5") is False


def test_python_ready_reads_a_salt_url_through_the_master(layline, monkeypatch):
    fetched = []
    layline.__salt__ = {"cp.get_file_str": lambda url: fetched.append(url) or "a==1.0\n"}
    monkeypatch.setattr(layline, "_installed_version", {"a": "1.0"}.get)
    assert layline.python_ready("salt://layline/python/files/requirements.txt") is True
    assert fetched == ["salt://layline/python/files/requirements.txt"]
    layline.__salt__ = {"cp.get_file_str": lambda url: False}
    with pytest.raises(CommandExecutionError, match="layline:python:requirements"):
        layline.python_ready("salt://nope.txt")


# --- no code from the index at build time (issue 18, finding 2) -------------------------------

WHEELS = ROOT / "layline" / "python" / "files" / "wheels"


def test_an_http_index_or_requirements_file_needs_allow_insecure_index(layline, make_config):
    python = {
        "index_url": "http://10.231.7.1:8080/simple/",
        "extra_index_url": "http://10.231.7.1:8081/simple/",
        "requirements": "http://10.231.7.1:8080/requirements.txt",
    }
    errors = layline._validate(make_config(SEED_PILLAR, {"python": python}), "ll-node-1")[0]
    assert sorted(e.split(": ")[0] for e in errors) == [
        "layline:python:extra_index_url",
        "layline:python:index_url",
        "layline:python:requirements",
    ], errors
    assert all("allow_insecure_index: true" in e for e in errors), errors
    lab = {"python": {**python, "allow_insecure_index": True}}
    assert layline._validate(make_config(SEED_PILLAR, lab), "ll-node-1")[0] == []


def test_the_shipped_pyhocon_wheel_is_the_pinned_artefact(layline):
    import hashlib

    (wheel,) = WHEELS.glob("*.whl")
    assert wheel.name == "pyhocon-0.3.63-py3-none-any.whl"  # pure Python: any platform
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    text = REQUIREMENTS.read_text().replace("\\\n", " ")
    line = next(entry for entry in text.splitlines() if entry.startswith("pyhocon=="))
    assert line.split("--hash=sha256:")[1].strip() == digest


def _pip_dry_run(tmp_path, links):
    import os
    import subprocess

    requirements = tmp_path / "requirements.txt"
    text = REQUIREMENTS.read_text().replace("\\\n", " ")
    requirements.write_text(next(e for e in text.splitlines() if e.startswith("pyhocon==")))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--no-deps",
            "--no-index",
            "--ignore-installed",
            "--require-hashes",
            "--only-binary",
            ":all:",
            "--find-links",
            str(links),
            "-r",
            str(requirements),
        ],
        capture_output=True,
        text=True,
        check=False,
        # no pip.conf or PIP_* of this host (its find-links, index): only the directory given
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("PIP_")},
            "PIP_CONFIG_FILE": os.devnull,
        },
    )


def test_pip_installs_the_pinned_pyhocon_from_the_shipped_wheel_without_building(tmp_path):
    """The flags of layline.python with real pip, offline: the shipped wheel satisfies the
    pin; a directory with only an sdist (what PyPI has) gives nothing to install, so pip
    never runs a build backend as root."""
    found = _pip_dry_run(tmp_path, WHEELS)
    assert found.returncode == 0, found.stdout + found.stderr
    assert "Would install pyhocon-0.3.63" in found.stdout, found.stdout
    sdists = tmp_path / "sdists"
    sdists.mkdir()
    (sdists / "pyhocon-0.3.63.tar.gz").write_bytes(b"not even an archive")
    refused = _pip_dry_run(tmp_path, sdists)
    assert refused.returncode != 0
    assert "No matching distribution found for pyhocon==0.3.63" in refused.stderr, refused.stderr


def _render_python_sls(layline, tmp_path, python):
    import unitsupport
    import yaml

    renderer = unitsupport.MapJinja(tmp_path)
    renderer.render({**SEED_PILLAR, "python": python})  # the pillar the SLS sees
    funcs = {
        "layline.roles": layline.roles,
        "layline.python_ready": lambda *a: False,
        "layline_release.pending_version": lambda *a: None,
        "layline.tls_plan": lambda *a, **k: None,
        "layline.seed_gate": lambda *a, **k: None,
        "layline_tls.ca_certificate": lambda *a: None,
        "layline_db.root_connection": lambda *a, **k: {},
    }
    for name, func in funcs.items():
        renderer._salt[name] = func
    text = renderer._salt["slsutil.renderer"](
        path="salt://layline/python/init.sls", default_renderer="jinja", tpldir="layline/python"
    )
    states = yaml.safe_load(text)
    pip = {
        k: v
        for item in states["layline-python-pip-installed"]["pip.installed"]
        for k, v in item.items()
    }
    return states, pip


def test_the_pip_state_installs_wheels_only_from_the_formula_and_the_index(layline, tmp_path):
    states, pip = _render_python_sls(
        layline,
        tmp_path,
        {"index_url": "http://10.231.7.1:8080/simple/", "allow_insecure_index": True},
    )
    assert pip["extra_args"] == [
        "--require-hashes",
        {"--only-binary": ":all:"},
        {"--find-links": "/var/lib/layline-formula/wheels"},
        {"--trusted-host": "10.231.7.1:8080"},
    ]
    wheels = {
        k: v
        for item in states["layline-python-file-recurse-wheels"]["file.recurse"]
        for k, v in item.items()
    }
    assert wheels["source"] == "salt://layline/python/files/wheels"
    assert wheels["name"] == "/var/lib/layline-formula/wheels"
    assert (wheels["user"], wheels["file_mode"]) == ("root", "0644")
    for name, python in (
        ("https", {"index_url": "https://pypi.example.com/simple/"}),
        # refused by validation; the state alone does not trust it either
        ("http", {"index_url": "http://10.231.7.1:8080/simple/"}),
    ):
        _, pip = _render_python_sls(layline, tmp_path / name, python)
        assert not [a for a in pip["extra_args"] if isinstance(a, dict) and "--trusted-host" in a]
