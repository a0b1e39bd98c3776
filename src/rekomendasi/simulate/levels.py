"""True competency levels over time: start level, on-the-job drift and the gains of completed training."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rekomendasi.simulate import dynamics
from rekomendasi.simulate.config import SimConfig
from rekomendasi.simulate.history import History
from rekomendasi.simulate.people import People
from rekomendasi.simulate.world import World


class LevelModel:
    """True level of any employee and competency at any date: start level + drift + realised gains."""

    def __init__(self, config: SimConfig, world: World, people: People, history: History) -> None:
        self.level0 = people.level0.astype(np.float64)
        self.in_standard = world.required[people.frame["pos_idx"].to_numpy()] > 0
        self.required = world.required[people.frame["pos_idx"].to_numpy()].astype(np.float64)
        self.start = pd.Timestamp(config.start)
        gains = history.gains.sort_values("date", kind="stable")
        self.n_comp = self.level0.shape[1]
        self.gains = pd.DataFrame(
            {
                "date": pd.to_datetime(gains["date"]).astype("datetime64[us]"),
                "key": gains["emp"].to_numpy(dtype=np.int64) * self.n_comp
                + gains["comp"].to_numpy(dtype=np.int64),
                "gain": gains["gain"].to_numpy(dtype=np.float64),
            }
        )
        self.gains["cum"] = self.gains.groupby("key")["gain"].cumsum()

    def _years(self, dates: np.ndarray) -> np.ndarray:
        return np.maximum(
            (dates - self.start.to_datetime64()).astype("timedelta64[D]").astype(float) / 365.25, 0.0
        )

    def dense(self, date: pd.Timestamp) -> np.ndarray:
        """[employee, competency] true levels on ``date`` (gains effective before that day), in [1, 5]."""
        levels = (
            self.level0
            + dynamics.YEARLY_DRIFT * self._years(np.array([date.to_datetime64()]))[0] * self.in_standard
        )
        before = self.gains[self.gains["date"] < date]
        flat = levels.reshape(-1)
        np.add.at(flat, before["key"].to_numpy(), before["gain"].to_numpy())
        return np.clip(levels, 1.0, 5.0)

    def at(self, emp: np.ndarray, comp: np.ndarray, dates: np.ndarray) -> np.ndarray:
        """True levels for row-aligned (employee, competency, date) queries, in [1, 5]."""
        if len(emp) == 0:
            return np.zeros(0)
        query = pd.DataFrame(
            {
                "date": pd.to_datetime(dates).astype("datetime64[us]"),
                "key": emp.astype(np.int64) * self.n_comp + comp,
                "pos": np.arange(len(emp)),
            }
        )
        query = query.sort_values("date", kind="stable")
        merged = pd.merge_asof(
            query, self.gains[["date", "key", "cum"]], on="date", by="key", allow_exact_matches=False
        )
        cum = np.zeros(len(emp))
        cum[merged["pos"].to_numpy()] = merged["cum"].fillna(0.0).to_numpy()
        base = (
            self.level0[emp, comp]
            + dynamics.YEARLY_DRIFT
            * self._years(pd.to_datetime(dates).to_numpy())
            * self.in_standard[emp, comp]
        )
        return np.clip(base + cum, 1.0, 5.0)
