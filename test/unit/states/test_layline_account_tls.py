"""The TLS clause of the MySQL accounts: the state layline_db.account_tls wired to the
real execution module (account_requires_tls, set_account_tls), whose pymysql is a fake
server that records every statement it would be sent. Nothing of layline_db is mocked;
the SQL is checked as the server would receive it (pymysql's own escaping)."""

import pymysql.converters
import pytest
import unitsupport

_load = unitsupport.load_file


class FakeServer:
    """Stands in for the pymysql module: ``mysql.user`` rows keyed by (user, host)."""

    def __init__(self, ssl_types):
        self.ssl_types = dict(ssl_types)
        self.sent = []  # the statements, rendered as the server receives them
        self.commits = 0
        self.logins = []
        self.err = pymysql.err

    def connect(self, **kwargs):
        self.logins.append(kwargs)
        return _Connection(self)


class _Connection:
    def __init__(self, server):
        self.server = server
        self.closed = False

    def cursor(self):
        return _Cursor(self.server)

    def commit(self):
        self.server.commits += 1

    def close(self):
        self.closed = True


class _Cursor:
    def __init__(self, server):
        self.server = server
        self.row = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, query, args=()):
        text = query % tuple(pymysql.converters.escape_item(a, "utf8mb4") for a in args)
        self.server.sent.append(text)
        if query.startswith("SELECT ssl_type FROM mysql.user"):
            key = tuple(args)
            self.row = (self.server.ssl_types[key],) if key in self.server.ssl_types else None
        elif query.startswith("ALTER USER"):
            clause = query.rsplit("REQUIRE ", 1)[1]
            self.server.ssl_types[tuple(args)] = "" if clause == "NONE" else "ANY"

    def fetchone(self):
        return self.row


ROOT_ARGS = {"connection_unix_socket": "/run/mysqld/mysqld.sock", "connection_user": "root"}


@pytest.fixture
def wired(monkeypatch):
    """(state module, fake server): the state calls the real execution module."""
    db = _load("_modules/layline_db.py", "layline_db_account_tls_under_test")
    server = FakeServer({("layline", "10.0.0.5"): ""})
    monkeypatch.setattr(db, "pymysql", server)
    monkeypatch.setattr(db, "HAS_PYMYSQL", True)
    st = _load("_states/layline_db.py", "layline_db_state_account_tls_under_test")
    st.__salt__ = {
        "layline_db.account_requires_tls": db.account_requires_tls,
        "layline_db.set_account_tls": db.set_account_tls,
    }
    st.__opts__ = {"test": False}
    return st, server


SELECT = "SELECT ssl_type FROM mysql.user WHERE User = 'layline' AND Host = '10.0.0.5'"


def test_required_tls_sends_require_ssl_for_exactly_that_account(wired):
    st, server = wired
    ret = st.account_tls("layline", "10.0.0.5", **ROOT_ARGS)
    assert ret["result"] is True and ret["changes"] == {"require": "REQUIRE SSL"}, ret
    assert server.sent == [SELECT, "ALTER USER 'layline'@'10.0.0.5' REQUIRE SSL"]
    assert server.commits == 1
    # root through the socket, no password sent
    assert server.logins[0]["unix_socket"] == "/run/mysqld/mysqld.sock"
    assert server.logins[0]["user"] == "root" and server.logins[0]["password"] == ""
    # no TLS on the local socket: pymysql would negotiate it and load the system CA bundle
    assert server.logins[0]["ssl_disabled"] is True
    # converged: a second run only reads
    ret = st.account_tls("layline", "10.0.0.5", **ROOT_ARGS)
    assert ret["changes"] == {} and server.sent[2:] == [SELECT]


def test_test_mode_sends_no_alter(wired):
    st, server = wired
    st.__opts__["test"] = True
    ret = st.account_tls("layline", "10.0.0.5", **ROOT_ARGS)
    assert ret["result"] is None and ret["changes"] == {"require": "REQUIRE SSL"}
    assert server.sent == [SELECT] and server.commits == 0


def test_not_required_sends_require_none(wired):
    st, server = wired
    server.ssl_types[("layline", "10.0.0.5")] = "ANY"
    ret = st.account_tls("layline", "10.0.0.5", required=False, **ROOT_ARGS)
    assert ret["changes"] == {"require": "REQUIRE NONE"}
    assert server.sent[-1] == "ALTER USER 'layline'@'10.0.0.5' REQUIRE NONE"


@pytest.mark.parametrize("ssl_type", ["ANY", "X509", "SPECIFIED"])
def test_stricter_clauses_count_as_tls_and_are_never_weakened(wired, ssl_type):
    """REQUIRE X509 (ssl_type X509) and ISSUER/SUBJECT/CIPHER (SPECIFIED) already demand
    TLS: the state must not replace them by plain REQUIRE SSL."""
    st, server = wired
    server.ssl_types[("layline", "10.0.0.5")] = ssl_type
    ret = st.account_tls("layline", "10.0.0.5", **ROOT_ARGS)
    assert ret["result"] is True and ret["changes"] == {}, ret
    assert server.sent == [SELECT] and server.commits == 0


def test_a_missing_account_is_an_error_and_nothing_is_sent(wired):
    st, server = wired
    ret = st.account_tls("layline", "nowhere.example", **ROOT_ARGS)
    assert ret["result"] is False and "'layline'@'nowhere.example' does not exist" in ret["comment"]
    assert not any(text.startswith("ALTER") for text in server.sent)


def test_a_hostile_account_name_is_escaped_not_executed(wired):
    st, server = wired
    server.ssl_types[("x' OR '1'='1", "10.0.0.5")] = ""
    st.account_tls("x' OR '1'='1", "10.0.0.5", **ROOT_ARGS)
    assert server.sent[-1] == "ALTER USER 'x\\' OR \\'1\\'=\\'1'@'10.0.0.5' REQUIRE SSL"
