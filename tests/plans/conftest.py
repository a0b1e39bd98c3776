"""Plans run on the served small world (a snapshot, a champion and its scores store)."""

from tests.serving.conftest import served_home  # noqa: F401  (the session fixture, shared)
