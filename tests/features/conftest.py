"""The feature tier uses the shared small world (tests/conftest.py) at an as-of date inside its history, and
one Dask cluster for the tests that build on workers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from rekomendasi.cluster import Runner, runner
from rekomendasi.settings import get_settings

AS_OF = dt.date(2025, 6, 30)  # half a year before the simulated history ends: later rows are "future"


@pytest.fixture(scope="session")
def two_workers() -> Iterator[Runner]:
    """A LocalCluster of two worker processes, started once for the feature tests (a few seconds)."""
    with runner("local:2") as run:
        get_settings.cache_clear()  # runner() read them; a later test may set its own environment
        yield run
