"""Fixtures of the unit tests; helpers and constants live in unitsupport.py.

(A module name of its own: several test folders have a conftest.py, so tests import
their helpers from a uniquely named module, never from `conftest`.)
"""

from unitsupport import layline, make_config, seed_config, single_config  # noqa: F401 - fixtures
