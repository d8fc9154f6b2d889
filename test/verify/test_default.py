"""Kitchen verifier: pytest test/verify --hosts=... --layline-scenario=<suite>."""

import checks


def test_deployment(host, scenario):
    if scenario == "cluster":
        checks.check_allinone_host(host)
    else:
        checks.check_single_host(host)
