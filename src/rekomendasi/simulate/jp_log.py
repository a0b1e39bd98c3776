"""The JP log: self-development hours outside the catalogue (seminars, coaching, webinars ...)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rekomendasi.contract.schemas import Employees, JpLog
from rekomendasi.simulate.config import SimConfig
from rekomendasi.simulate.people import People
from rekomendasi.simulate.sampling import employees_in, random_dates
from rekomendasi.simulate.tables import categorical, stack


def generate_jp_log(config: SimConfig, people: People) -> pd.DataFrame:
    """JP log (plus emp; activity_type as a categorical): self-development activities per employee and
    year, with their JP."""
    rng = config.rng("jp_log")
    frame = people.frame
    kinds = ("seminar", "coaching", "belajar_mandiri", "webinar", "komunitas_belajar")
    jp_of = {
        "seminar": (4, 8),
        "coaching": (2, 2),
        "belajar_mandiri": (2, 6),
        "webinar": (2, 3),
        "komunitas_belajar": (1, 2),
    }
    jp_low = np.array([jp_of[k][0] for k in kinds])
    jp_high = np.array([jp_of[k][1] for k in kinds])
    parts: list[dict[str, np.ndarray]] = []
    for year in config.history_years:
        emp = employees_in(frame, pd.Timestamp(year, 6, 30))
        count = rng.poisson(1.6, len(emp))
        e_rep = np.repeat(emp, count)
        kind = rng.choice(len(kinds), size=len(e_rep), p=[0.3, 0.2, 0.2, 0.2, 0.1])  # position in kinds
        lo, hi = jp_low[kind], jp_high[kind]
        end = min(pd.Timestamp(year, 12, 31), pd.Timestamp(config.as_of))
        low = np.maximum(
            pd.Timestamp(year, 1, 1).to_datetime64(), frame[Employees.entry_date].to_numpy()[e_rep]
        )
        dates = random_dates(rng, low, np.full(len(e_rep), end.to_datetime64()))
        parts.append(
            {
                "emp": e_rep.astype(np.int32),
                JpLog.date: dates,
                "kind": kind.astype(np.int8),
                JpLog.jp: (lo + rng.integers(0, hi - lo + 1)).astype(float),
            }
        )
    columns = stack(parts)
    return pd.DataFrame(
        {
            JpLog.nip: people.nips(columns["emp"]),
            JpLog.date: columns[JpLog.date],
            JpLog.activity_type: categorical(columns["kind"], kinds),
            JpLog.jp: columns[JpLog.jp],
            "emp": columns["emp"],
        }
    )
