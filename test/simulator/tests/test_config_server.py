"""Simulated configuration server."""

import json

from simsupport import REST, http_get, wait_for

PORT = 25841
CONF = f"""
layline.config-server.rest-server {{ canonical.hostname = "cs.test", bind.port = {PORT} }}
pekko.persistence.journal.plugin = "jdbc-journal"
jdbc-journal.use-shared-db = "h2file"
pekko-persistence-jdbc.shared-databases.h2file.db {{
  url = "jdbc:h2:file:~/.layline/config-server/database/h2/journal;DATABASE_TO_UPPER=false"
}}
"""


def test_config_server_api(lab):
    lab.engine(1, seeds=(1,))
    cluster = {
        "@type": "deploy/cluster",
        "name": "Production",
        "bootstrapNodes": [
            {"modifier": "add", "uuid": "u1", "data": f"http://127.0.0.11:{REST}"},
            {"modifier": "add", "uuid": "u2", "data": f"http://127.0.0.13:{REST}"},
        ],
    }
    server = lab.config_server(CONF, {"Production": cluster})
    base = f"http://127.0.0.1:{PORT}"
    wait_for(
        lambda: "[LAY-10018] layline configuration server is up and running" in server.log(),
        what="LAY-10018",
    )
    assert "[LAY-00360]" in server.log()
    code, body = http_get(base + "/")
    assert code == 200 and "<form" in body
    assert http_get(base + "/api/clusters")[0] == 401
    assert http_get(base + "/api/clusters", auth=("admin", "wrong"))[0] == 401
    code, body = http_get(base + "/api/clusters", auth=("admin", "admin"))
    assert code == 200
    assert json.loads(body) == [
        {
            "name": "Production",
            "bootstrapNodes": [f"http://127.0.0.11:{REST}", f"http://127.0.0.13:{REST}"],
        }
    ]

    def nodes():
        code, body = http_get(
            base + "/api/clusters/Production/nodes", timeout=5, auth=("admin", "admin")
        )
        rows = json.loads(body) if code == 200 else []
        return rows if [r["state"] for r in rows] == ["Up", "Unreachable"] else None

    rows = wait_for(nodes, what="nodes table")
    assert rows[0]["name"] == "127.0.0.11" and rows[0]["version"] == "2.5.4"
    assert rows[1]["name"] == "127.0.0.13"
    assert (server.home / ".layline/config-server/database/h2/journal.mv.db").read_text()
    assert http_get(base + "/api/clusters/Nope/nodes", auth=("admin", "admin"))[0] == 404
    server.kill(15)
    assert server.wait(15) == 143
