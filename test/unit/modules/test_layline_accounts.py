"""MySQL accounts per role (layline_db.accounts) and the reduction of broader grants."""

import pathlib

import pytest
import unitsupport
from salt.exceptions import CommandExecutionError
from test_layline_db import CONFIG

ROOT = pathlib.Path(__file__).resolve().parents[3]


_load = unitsupport.load_file


@pytest.fixture
def db():
    module = _load("_modules/layline_db.py", "layline_db_accounts_under_test")
    module.__salt__ = unitsupport.salt_functions(unitsupport.load_module())
    module.__opts__ = {"test": False, "id": "ll-node-1"}
    return module


OWNER = ["SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "INDEX", "REFERENCES"]
DML = ["SELECT", "INSERT", "UPDATE", "DELETE"]


def test_accounts_are_canonical_addresses_with_privileges_per_role(db):
    # unitsupport's resolver: the lab's /etc/hosts (config server .11, nodes .12, .13)
    assert db.accounts(CONFIG) == [
        {"host": "10.231.7.11", "privileges": OWNER, "role": "schema owner (config server)"},
        {"host": "10.231.7.12", "privileges": DML, "role": "engine"},
        {"host": "10.231.7.13", "privileges": DML, "role": "engine"},
    ]
    assert db.allowed_hosts(CONFIG) == ["10.231.7.11", "10.231.7.12", "10.231.7.13"]


def test_accounts_use_a_pillar_address_and_hostnames_without_skip_name_resolve(db):
    cfg = dict(CONFIG, config_server=dict(CONFIG["config_server"], address="192.0.2.7"))
    assert db.allowed_hosts(cfg)[0] == "192.0.2.7"
    cfg = dict(CONFIG, database=dict(CONFIG["database"], skip_name_resolve=False))
    assert db.allowed_hosts(cfg) == [
        "ll-config-server.orb.local",
        "ll-node-1.orb.local",
        "ll-node-2.orb.local",
    ]


def test_allowed_hosts_replace_the_engines_and_cidrs_become_netmasks(db):
    cfg = dict(
        CONFIG,
        database=dict(
            CONFIG["database"],
            allowed_hosts=["10.0.0.0/24", "10.0.0.%", "10.0.0.%", "192.0.2.9/32", "10.231.7.11"],
        ),
    )
    assert [(a["host"], a["privileges"]) for a in db.accounts(cfg)] == [
        ("10.231.7.11", OWNER),  # the config server keeps the owner's privileges
        ("10.0.0.0/255.255.255.0", DML),
        ("10.0.0.%", DML),
        ("192.0.2.9", DML),
    ]


def test_one_host_with_both_roles_gets_the_owner_privileges(db):
    cfg = dict(
        CONFIG,
        config_server={"minion": "a", "hostname": "localhost"},
        cluster={"nodes": [{"minion": "a", "hostname": "localhost"}]},
        database=dict(CONFIG["database"], minion="a", hostname="localhost"),
    )
    assert db.accounts(cfg) == [
        {"host": "127.0.0.1", "privileges": OWNER, "role": "schema owner (config server)"}
    ]
    # the single-host default: the host itself, on loopback
    assert db.allowed_hosts({"database": {}}) == ["127.0.0.1"]


def test_accounts_refuse_a_loopback_engine_of_a_multi_machine_cluster(db):
    cfg = dict(
        CONFIG,
        cluster={
            "nodes": [
                {"minion": "n1", "hostname": "localhost"},
                {"minion": "n2", "hostname": "ll-node-2.orb.local"},
            ]
        },
    )
    with pytest.raises(
        CommandExecutionError,
        match=r"layline:cluster:nodes\[0\]:hostname 'localhost' resolves to "
        r"127\.0\.0\.1.*set layline:cluster:nodes\[0\]:address",
    ):
        db.accounts(cfg)


def test_excess_privileges_reduce_broader_grants(db):
    grants = [
        "GRANT USAGE ON *.* TO `layline`@`10.0.0.5` IDENTIFIED BY PASSWORD '*AB'",
        "GRANT ALL PRIVILEGES ON `layline`.* TO `layline`@`10.0.0.5`",
    ]
    assert db.excess_privileges(grants, "layline", DML) == {"layline.*": ["ALL PRIVILEGES"]}
    grants = [
        "GRANT USAGE ON *.* TO `layline`@`h`",
        "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP ON `layline`.* TO `layline`@`h`"
        " WITH GRANT OPTION",
        "GRANT SELECT ON `other`.* TO `layline`@`h`",
        "GRANT PROCESS ON *.* TO `layline`@`h`",
    ]
    assert db.excess_privileges(grants, "layline", DML) == {
        "layline.*": ["CREATE", "DROP", "GRANT OPTION"],
        "other.*": ["SELECT"],
        "*.*": ["PROCESS"],
    }
    exact = [
        "GRANT USAGE ON *.* TO `layline`@`h`",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON `layline`.* TO `layline`@`h`",
    ]
    assert db.excess_privileges(exact, "layline", DML) == {}
    assert db.excess_privileges(False, "layline", DML) == {}
    # saltext.mysql escapes '_' in database names: still the layline database
    escaped = ["GRANT SELECT, DROP ON `my\\_db`.* TO `layline`@`h`"]
    assert db.excess_privileges(escaped, "my_db", DML) == {"my_db.*": ["DROP"]}


class _FakeMysql:
    """saltext.mysql's user_grants / grant_revoke over an in-memory grant list."""

    def __init__(self, grants):
        self.grants = grants
        self.revoked = []

    def user_grants(self, user, host, **_):
        return list(self.grants)

    def grant_revoke(self, grant, database, user, host, grant_option=False, **_):
        self.revoked.append((grant, database, grant_option))
        self.grants = [g for g in self.grants if f" ON `{database.split('.')[0]}`" not in g]
        return True


@pytest.fixture
def reduce_state(db):
    st = _load("_states/layline_db.py", "layline_db_state_accounts")
    st.__opts__ = {"test": False}
    st.__context__ = {}

    def make(grants):
        fake = _FakeMysql(grants)
        st.__salt__ = {
            "mysql.user_grants": fake.user_grants,
            "mysql.grant_revoke": fake.grant_revoke,
            "layline_db.excess_privileges": db.excess_privileges,
        }
        return st, fake

    return make


def test_privileges_reduced_revokes_once_and_honours_test(reduce_state):
    broad = [
        "GRANT USAGE ON *.* TO `layline`@`h`",
        "GRANT ALL PRIVILEGES ON `layline`.* TO `layline`@`h`",
    ]
    st, fake = reduce_state(broad)
    st.__opts__["test"] = True
    ret = st.privileges_reduced("layline", "h", "layline", DML)
    assert ret["result"] is None and "Would revoke" in ret["comment"] and not fake.revoked
    st.__opts__["test"] = False
    ret = st.privileges_reduced("layline", "h", "layline", DML)
    assert ret["result"] is True
    assert ret["changes"] == {"revoked": {"layline.*": ["ALL PRIVILEGES"]}}
    assert fake.revoked == [("ALL PRIVILEGES", "layline.*", False)]
    again = st.privileges_reduced("layline", "h", "layline", DML)
    assert again["changes"] == {} and again["result"] is True


def test_privileges_reduced_leaves_a_missing_account_alone(reduce_state):
    st, fake = reduce_state([])
    fake.user_grants = lambda *a, **k: False
    st.__salt__["mysql.user_grants"] = fake.user_grants
    ret = st.privileges_reduced("layline", "h", "layline", DML)
    assert ret["result"] is True and ret["changes"] == {} and not fake.revoked
