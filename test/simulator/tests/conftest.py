"""Fixtures of the simulator tests; helpers and constants live in simsupport.py.

(A module name of its own: several test folders have a conftest.py, so tests import
their helpers from a uniquely named module, never from `conftest`.)
"""

from simsupport import dist, install_dir, lab  # noqa: F401 - fixtures
