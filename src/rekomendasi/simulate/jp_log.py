"""The JP log: self-development hours outside the catalogue (seminars, coaching, webinars ...)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rekomendasi.contract.schemas import Employees, JpLog
from rekomendasi.simulate.config import SimConfig
from rekomendasi.simulate.people import People
from rekomendasi.simulate.sampling import employees_in, random_dates


def generate_jp_log(config: SimConfig, people: People) -> pd.DataFrame:
    """JP log: self-development activities per employee and year, with their JP."""
    rng = config.rng("jp_log")
    frame = people.frame
    kinds = np.array(["seminar", "coaching", "belajar_mandiri", "webinar", "komunitas_belajar"], dtype=object)
    jp_of = {
        "seminar": (4, 8),
        "coaching": (2, 2),
        "belajar_mandiri": (2, 6),
        "webinar": (2, 3),
        "komunitas_belajar": (1, 2),
    }
    parts = []
    for year in config.history_years:
        emp = employees_in(frame, pd.Timestamp(year, 6, 30))
        count = rng.poisson(1.6, len(emp))
        e_rep = np.repeat(emp, count)
        kind = kinds[rng.choice(len(kinds), size=len(e_rep), p=[0.3, 0.2, 0.2, 0.2, 0.1])]
        lo = np.array([jp_of[k][0] for k in kind])
        hi = np.array([jp_of[k][1] for k in kind])
        end = min(pd.Timestamp(year, 12, 31), pd.Timestamp(config.as_of))
        low = np.maximum(
            pd.Timestamp(year, 1, 1).to_datetime64(), frame[Employees.entry_date].to_numpy()[e_rep]
        )
        parts.append(
            pd.DataFrame(
                {
                    JpLog.nip: frame[Employees.nip].to_numpy()[e_rep],
                    JpLog.date: random_dates(rng, low, np.full(len(e_rep), end.to_datetime64())),
                    JpLog.activity_type: kind,
                    JpLog.jp: (lo + rng.integers(0, hi - lo + 1)).astype(float),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)
