"""Fixtures of the unit tests; helpers and constants live in unitsupport.py.

(A module name of its own: several test folders have a conftest.py, so tests import
their helpers from a uniquely named module, never from `conftest`.)
"""

from unitsupport import (  # noqa: F401 - fixtures
    _resolver_of_the_lab,
    layline,
    make_config,
    map_jinja,
    no_dns,
    seed_config,
    single_config,
    tmp_paths_allowed,
)
