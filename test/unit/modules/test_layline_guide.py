"""The rendered application.conf judged by references the formula did not write.

- layline's own Multi-Node Cluster Setup guide (its application.conf blocks, copied verbatim
  into test/fixtures/layline-guide/): every setting the guide makes is in the formula's file
  with the value the JVM sees, except the differences listed in DIFFERENCES with the reason;
- Lightbend Config (the HOCON parser Pekko itself uses, test/hocon/) parses every test
  pillar's rendered file to exactly the settings of the formula's model (pyhocon, which the
  formula itself reads back with, is no judge of its own output).
"""

import sys
from urllib.parse import parse_qsl

import pytest
import yaml
from unitsupport import ROOT, SEED_PILLAR

sys.path.insert(0, str(ROOT / "test" / "hocon"))
import lightbend_hocon  # noqa: E402

GUIDE = ROOT / "test" / "fixtures" / "layline-guide"
PILLARS = ROOT / "test" / "pillar"
MISSING = object()

# guide file -> (role the formula renders, minion)
GUIDE_FILES = {
    "config-server.application.conf": ("config-server", "ll-config-server"),
    "ll-node-1.application.conf": ("reactive-engine", "ll-node-1"),
    "ll-node-2.application.conf": ("reactive-engine", "ll-node-2"),
}
GUIDE_PASSWORD = "your_secure_password"  # noqa: S105 - the guide's placeholder
NODES = ["ll-node-1.orb.local", "ll-node-2.orb.local"]

# Connector/J parameters of the guide's URL the formula deliberately leaves out
URL_PARAMS_LEFT_OUT = {
    "verifyServerCertificate": "the formula never turns certificate checks off: sslMode is "
    "VERIFY_IDENTITY (database:tls) or DISABLED",
    "useSSL": "replaced by sslMode (Connector/J 8.0.13+): VERIFY_IDENTITY with the cluster CA",
    "allowPublicKeyRetrieval": "lets a man in the middle ask for the RSA key and recover the "
    "password; TLS carries the login instead",
    "useLegacyDatetimeCode": "removed from Connector/J in 8.0.23; layline ships 8.0.33",
}


def _url_matches(guide, formula):
    """Same host, port and database; every guide parameter with its value, but the above."""
    g_base, _, g_query = guide.partition("?")
    f_base, _, f_query = formula.partition("?")
    f_params = dict(parse_qsl(f_query, keep_blank_values=True))
    wrong = {
        key: (value, f_params.get(key))
        for key, value in parse_qsl(g_query)
        if key not in URL_PARAMS_LEFT_OUT and f_params.get(key) != value
    }
    assert g_base == f_base and not wrong, f"db.url differs from the guide's: {wrong}"
    return True


def _seed_nodes_match(guide, formula):
    # The guide's page hid user@host of each address behind an e-mail filter
    # ("pekko://[email protected]:5843"); what survived must match, and the order is
    # the guide's (# 1st node, # 2nd node).
    assert len(guide) == len(formula) == len(NODES), (guide, formula)
    assert all(g.startswith("pekko://") and g.endswith(":5843") for g in guide), guide
    return formula == [f"pekko://layline@{host}:5843" for host in NODES]


# dotted path (or a prefix of it) -> (reason, check(guide value, formula value))
_BINDS_CANONICAL = (
    "the guide binds every interface; the formula binds the machine's canonical address "
    "(layline:network:bind_any: true gives 0.0.0.0)",
    lambda guide, formula: guide == "0.0.0.0" and formula.startswith("10.231.7."),
)

DIFFERENCES = {
    "layline.reactive-engine.rest-server.bind.hostname": _BINDS_CANONICAL,
    "layline.config-server.rest-server.bind.hostname": _BINDS_CANONICAL,
    "pekko.remote.artery.bind.hostname": _BINDS_CANONICAL,
    "pekko-persistence-jdbc.shared-databases.h2file": (
        "an unused alternative (use-shared-db names mysql) with root's home, root/root and "
        "the guide author's machine paths: the formula renders only the backend in use",
        lambda guide, formula: formula is MISSING,
    ),
    "pekko-persistence-jdbc.shared-databases.mysql.db.host": (
        "repeats db.url's host; Slick connects with db.url",
        lambda guide, formula: formula is MISSING,
    ),
    "pekko-persistence-jdbc.shared-databases.mysql.db.port": (
        "repeats db.url's port; Slick connects with db.url",
        lambda guide, formula: formula is MISSING,
    ),
    "pekko-persistence-jdbc.shared-databases.mysql.db.user": (
        "the guide's typo 'laylien' on node 1: the formula has one user for every role",
        lambda guide, formula: formula == "layline" and guide in ("layline", "laylien"),
    ),
    "pekko-persistence-jdbc.shared-databases.mysql.db.url": (
        "same server and parameters, less those in URL_PARAMS_LEFT_OUT",
        _url_matches,
    ),
    "pekko.cluster.seed-nodes": (
        "the guide's addresses were mangled by its web page's e-mail filter",
        _seed_nodes_match,
    ),
    "pekko.remote.log-remote-lifecycle-events": (
        "classic remoting's key: Pekko reads it only under pekko.remote.classic (apache/pekko "
        "v1.1.2 remote/src/main/resources/reference.conf); layline runs Artery",
        lambda guide, formula: formula is MISSING,
    ),
    "pekko.remote.artery.transport": (
        "the guide's production notes: Artery over mutual TLS (layline:tls, on by default)",
        lambda guide, formula: guide == "tcp" and formula == "tls-tcp",
    ),
}


def _unwrap(text):
    """Rejoin the quoted strings the guide's page wrapped over several lines (the JDBC urls):
    the only change made to the verbatim copy before Lightbend parses it."""
    lines, pending = [], None
    for line in text.splitlines():
        if pending is not None:
            pending += line
            if pending.count('"') % 2 == 0:
                lines.append(pending)
                pending = None
        elif line.count('"') % 2:
            pending = line
        else:
            lines.append(line)
    assert pending is None, "unterminated quoted string in the guide's text"
    return "\n".join(lines) + "\n"


def _flatten(data, prefix=""):
    out = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and value:
            out.update(_flatten(value, path))
        else:
            out[path] = value
    return out


def _jvm_value(value):
    """What Config.getBoolean / getNumber make of a value (HOCON's automatic conversions)."""
    if isinstance(value, str):
        lowered = value.lower()
        if lowered in ("true", "yes", "on"):
            return True
        if lowered in ("false", "no", "off"):
            return False
        try:
            return int(value)
        except ValueError:
            return value
    return value


def _difference(path):
    return next(
        (
            (prefix, rule)
            for prefix, rule in DIFFERENCES.items()
            if path == prefix or path.startswith(prefix + ".")
        ),
        (None, None),
    )


@pytest.fixture(scope="module")
def guide_and_formula(map_jinja):
    pillar = yaml.safe_load((PILLARS / "seed" / "layline.sls").read_text())["layline"]
    pillar["database"]["password"] = GUIDE_PASSWORD
    config = map_jinja.render(pillar)
    from unitsupport import load_module

    layline = load_module()
    texts = {}
    for name, (role, minion) in GUIDE_FILES.items():
        texts[f"guide/{name}"] = _unwrap((GUIDE / name).read_text())
        texts[f"formula/{name}"] = layline._render_text(role, config, minion)
    parsed = lightbend_hocon.parse_texts(texts)
    return {name: (parsed[f"guide/{name}"], parsed[f"formula/{name}"]) for name in GUIDE_FILES}


@pytest.mark.parametrize("name", sorted(GUIDE_FILES))
def test_every_setting_of_the_guide_is_rendered(guide_and_formula, name):
    guide, formula = (_flatten(data) for data in guide_and_formula[name])
    assert len(guide) > 15, f"the guide's {name} parsed to almost nothing: {guide}"
    wrong = []
    for path, value in guide.items():
        rendered = formula.get(path, MISSING)
        prefix, rule = _difference(path)
        if rule is not None:
            if not rule[1](value, rendered):
                wrong.append(f"{path}: {rendered!r} (allowed difference: {rule[0]})")
        elif rendered is MISSING or _jvm_value(rendered) != _jvm_value(value):
            shown = "missing" if rendered is MISSING else repr(rendered)
            wrong.append(f"{path}: guide {value!r}, formula {shown}")
    assert not wrong, "\n".join(wrong)


def test_every_listed_difference_is_still_needed(guide_and_formula):
    """No stale entry: each difference matches a setting of the guide the formula does
    not render as is."""
    used = set()
    for guide, formula in guide_and_formula.values():
        guide, formula = _flatten(guide), _flatten(formula)
        for path, value in guide.items():
            prefix, _rule = _difference(path)
            if prefix and (
                formula.get(path, MISSING) is MISSING
                or _jvm_value(formula[path]) != _jvm_value(value)
            ):
                used.add(prefix)
    assert used == set(DIFFERENCES), set(DIFFERENCES) - used


# ---------------------------------------------------------------- every test pillar, Lightbend


def _scenario_configs(map_jinja):
    """(scenario, role, minion, merged config) for each role of each test pillar."""
    from unitsupport import load_module

    layline = load_module()
    cases = []
    for scenario in ("single", "seed", "allinone"):
        pillar = yaml.safe_load((PILLARS / scenario / "layline.sls").read_text())["layline"]
        cases.append((scenario, pillar))
    extra = {
        "reactive_engine": {
            "pekko.actor.serialization-bindings": {'"com.example.Event"': "jackson-json"},
            "custom": {
                "ref": "${pekko.actor.provider}",
                "text": 'tab\there \u00e9 "q" #x //y',
                "list": [1, 2.5, None, True, "a,b"],
            },
        }
    }
    cases.append(("seed+extra_config", {**SEED_PILLAR, "extra_config": extra}))
    for scenario, pillar in cases:
        config = map_jinja.render(pillar)
        minions = {n["minion"] for n in config["cluster"]["nodes"]}
        minions |= {config["config_server"]["minion"] or "ll-single"}
        for minion in sorted(minions):
            roles = layline.roles(config=config, minion_id=minion)
            for role, needs in (("reactive-engine", "engine"), ("config-server", "config-server")):
                if needs in roles:
                    yield scenario, role, minion, config


def _unmask(model, parsed, password):
    """render_data masks the password: it must be the pillar's, verbatim, in the file."""
    if isinstance(model, dict) and isinstance(parsed, dict):
        return {key: _unmask(value, parsed.get(key), password) for key, value in model.items()}
    if model == "******":
        assert parsed == password
        return parsed
    return model


def test_lightbend_reads_exactly_the_model_for_every_test_pillar(map_jinja):
    from unitsupport import load_module

    layline = load_module()
    cases = list(_scenario_configs(map_jinja))
    assert {c[0] for c in cases} == {"single", "seed", "allinone", "seed+extra_config"}
    texts = {f"{s}/{r}/{m}": layline._render_text(r, c, m) for s, r, m, c in cases}
    parsed = lightbend_hocon.parse_texts(texts)
    for scenario, role, minion, config in cases:
        model = layline.render_data(role, config, minion_id=minion)
        expected = _unmask(
            model, parsed[f"{scenario}/{role}/{minion}"], config["database"]["password"]
        )
        assert parsed[f"{scenario}/{role}/{minion}"] == expected, (scenario, role, minion)


def test_lightbend_rejects_what_is_not_hocon():
    """The oracle can say no (else the tests above would prove nothing)."""
    with pytest.raises(lightbend_hocon.HoconError, match="bad"):
        lightbend_hocon.parse_texts({"bad": 'a = "unterminated\n'})


def test_fixtures_are_the_guides_text_verbatim():
    guide = ROOT.parent / "shared" / "seed" / "multi-node-cluster-setup.txt"
    if not guide.is_file():
        pytest.skip("the guide (shared/seed) is not beside this checkout")
    text = guide.read_text()
    for name in GUIDE_FILES:
        assert (GUIDE / name).read_text() in text, name
