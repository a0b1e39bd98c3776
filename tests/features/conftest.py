"""The feature tier uses the shared small world (tests/conftest.py) at an as-of date inside its history."""

from __future__ import annotations

import datetime as dt

AS_OF = dt.date(2025, 6, 30)  # half a year before the simulated history ends: later rows are "future"
