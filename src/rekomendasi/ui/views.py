"""What the planner's pages show, computed from the engine's snapshot: an agency's overview (staff, 20 JP
status, mandatory programmes due, the unit x competency gap heatmap, the talent grid) and a unit's staff
with their largest gaps. Pure reading, no HTML: the routes put these values into templates.

The competency gaps of a whole agency are read from the snapshot's file at once (only the agency's rows
and three columns); an agency's overview is cached per engine, so opening a page again is instant.
"""

from __future__ import annotations

import calendar
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from rekomendasi.features.schemas import CompetencyGaps, Development, Mandatory, Performance, Roster
from rekomendasi.serving.engine import Engine

JpState = Literal["met", "on_track", "behind", "unknown"]
JP_STATES: tuple[JpState, ...] = ("met", "on_track", "behind", "unknown")
SORTS = ("gap", "jp", "nip")
HEATMAP_COMPETENCIES = 12
"""Competencies shown as heatmap columns: those with the largest total gap in the agency."""
PERFORMANCE_BANDS = ("above", "meets", "below")
POTENTIAL_BANDS = ("low", "medium", "high")
_CACHED_AGENCIES = 32


@dataclass(frozen=True)
class Heatmap:
    """Mean gap (levels, gaps below 0 counted as 0) of each unit's staff in each competency; NaN where no
    one in the unit has the competency in their position's standard."""

    units: list[str]
    unit_staff: list[int]
    competencies: list[tuple[str, str]]  # (id, name), largest total gap first
    values: np.ndarray  # units x competencies
    top: float  # the largest value (for the colour scale)

    def level(self, value: float) -> int:
        """The colour class 0-4 of a cell (0 for blank cells and gaps near 0)."""
        if np.isnan(value) or self.top <= 0:
            return 0
        return int(min(4, max(0, np.ceil(4 * value / self.top))))


@dataclass(frozen=True)
class MandatoryLine:
    training_id: str
    title: str
    due: int
    enrolled: int


@dataclass(frozen=True)
class Overview:
    """An agency at a glance."""

    agency: str
    staff: int
    units: list[tuple[str, int]]  # (unit_id, active staff)
    year: int
    jp_target: float
    year_share: float  # the part of the year gone by on the snapshot date
    jp: dict[str, int]  # JpState -> staff
    mandatory: list[MandatoryLine]
    heatmap: Heatmap
    talent: dict[tuple[str, str], int]  # (performance band, potential band) -> staff
    talent_boxes: dict[tuple[str, str], int]  # the box number of each cell
    no_box: int


@dataclass(frozen=True)
class StaffRow:
    """One person of a unit's list."""

    nip: str
    position_id: str
    jenis_jabatan: str | None
    jp_total: float | None
    jp_target: float | None
    jp_remaining: float | None
    jp_state: JpState
    talent_box: int | None
    gaps: list[tuple[str, str, float]]  # (competency id, name, gap): the largest three above 0
    focus_gap: float | None = None  # the gap in the competency filtered on


@dataclass
class _AgencyData:
    people: pd.DataFrame  # the agency's active roster with JP state and talent box, by nip
    gaps: pd.DataFrame  # nip, competency_id, gap (>0 only), unit_id
    standard: pd.Series  # (unit_id, competency_id) -> staff with it in their standard (gap 0 included)
    overview: Overview | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class PageData:
    """The pages' values for one engine, with a small cache of agencies (thread-safe)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._agencies: OrderedDict[str, _AgencyData] = OrderedDict()
        self._lock = threading.Lock()
        snapshot = engine.snapshot
        self.as_of = snapshot.as_of
        days = 366 if calendar.isleap(self.as_of.year) else 365
        self.year_share = self.as_of.timetuple().tm_yday / days

    def agencies(self) -> list[tuple[str, int, int]]:
        """Every agency of the snapshot: (instansi_id, active staff, units), by id."""
        roster = self._active()
        grouped = roster.groupby(Roster.instansi_id).agg(
            staff=(Roster.nip, "size"), units=(Roster.unit_id, "nunique")
        )
        return [(str(i), int(r.staff), int(r.units)) for i, r in grouped.sort_index().iterrows()]

    def has_agency(self, agency: str) -> bool:
        return bool(self.engine.staff(agency))

    def overview(self, agency: str) -> Overview:
        """The agency's overview (computed once per engine, then cached)."""
        data = self._data(agency)
        with data.lock:
            if data.overview is None:
                data.overview = self._overview(agency, data)
            return data.overview

    def units(self, agency: str) -> list[str]:
        return sorted(self._data(agency).people[Roster.unit_id].unique().tolist())

    def unit_staff(
        self,
        agency: str,
        unit: str,
        state: str | None = None,
        competency: str | None = None,
        sort: str = "gap",
    ) -> tuple[list[StaffRow], int]:
        """A unit's staff, filtered by JP state and/or a competency with a gap, sorted; and the unit's
        size before filtering."""
        data = self._data(agency)
        people = data.people[data.people[Roster.unit_id] == unit]
        total = len(people)
        gaps = data.gaps[data.gaps[CompetencyGaps.nip].isin(people[Roster.nip])]
        if state in JP_STATES:
            people = people[people["jp_state"] == state]
        focus: pd.Series | None = None
        if competency:
            chosen = gaps[gaps[CompetencyGaps.competency_id] == competency]
            focus = chosen.set_index(CompetencyGaps.nip)[CompetencyGaps.gap]
            people = people[people[Roster.nip].isin(focus.index)]
        largest = gaps.groupby(CompetencyGaps.nip)[CompetencyGaps.gap].max()
        people = people.assign(
            _largest=people[Roster.nip].map(largest).fillna(0.0),
            _focus=people[Roster.nip].map(focus) if focus is not None else np.nan,
        )
        if sort == "jp":
            people = people.sort_values([Development.jp_remaining, Roster.nip], ascending=[False, True])
        elif sort == "nip":
            people = people.sort_values(Roster.nip)
        else:
            key = "_focus" if focus is not None else "_largest"
            people = people.sort_values([key, Roster.nip], ascending=[False, True])
        names = self.engine.catalogue.names
        top = (
            gaps.sort_values([CompetencyGaps.gap, CompetencyGaps.competency_id], ascending=[False, True])
            .groupby(CompetencyGaps.nip)
            .head(3)
        )
        by_nip: dict[str, list[tuple[str, str, float]]] = {}
        for nip, cid, gap in top[
            [CompetencyGaps.nip, CompetencyGaps.competency_id, CompetencyGaps.gap]
        ].itertuples(index=False):
            by_nip.setdefault(str(nip), []).append((str(cid), names.get(str(cid), str(cid)), float(gap)))
        rows = [
            StaffRow(
                nip=str(r[Roster.nip]),
                position_id=str(r[Roster.position_id]),
                jenis_jabatan=None if pd.isna(r[Roster.jenis_jabatan]) else str(r[Roster.jenis_jabatan]),
                jp_total=_opt(r[Development.jp_total]),
                jp_target=_opt(r[Development.jp_target]),
                jp_remaining=_opt(r[Development.jp_remaining]),
                jp_state=r["jp_state"],
                talent_box=None if pd.isna(r["talent_box"]) else int(r["talent_box"]),
                gaps=by_nip.get(str(r[Roster.nip]), []),
                focus_gap=_opt(r["_focus"]),
            )
            for r in people.to_dict("records")
        ]
        return rows, total

    def competencies_in(self, agency: str, unit: str | None = None) -> list[tuple[str, str]]:
        """Competencies with a gap above 0 among the agency's (or unit's) staff: (id, name), by name."""
        gaps = self._data(agency).gaps
        if unit is not None:
            gaps = gaps[gaps[Roster.unit_id] == unit]
        names = self.engine.catalogue.names
        ids = sorted(set(gaps[CompetencyGaps.competency_id]), key=lambda c: (names.get(c, c), c))
        return [(c, names.get(c, c)) for c in ids]

    # --- building -----------------------------------------------------------------------------------

    def _active(self) -> pd.DataFrame:
        roster = self.engine.snapshot.roster
        return roster[roster[Roster.active]]

    def _data(self, agency: str) -> _AgencyData:
        with self._lock:
            found = self._agencies.get(agency)
            if found is not None:
                self._agencies.move_to_end(agency)
                return found
        built = self._build(agency)
        with self._lock:
            found = self._agencies.setdefault(agency, built)
            while len(self._agencies) > _CACHED_AGENCIES:
                self._agencies.popitem(last=False)
            return found

    def _build(self, agency: str) -> _AgencyData:
        snapshot = self.engine.snapshot
        roster = self._active()
        people = roster[roster[Roster.instansi_id] == agency][
            [Roster.nip, Roster.unit_id, Roster.position_id, Roster.jenis_jabatan]
        ]
        development = snapshot.development[
            [
                Development.nip,
                Development.year,
                Development.jp_total,
                Development.jp_target,
                Development.jp_remaining,
                Development.meets_jp_target,
            ]
        ]
        people = people.merge(development, on=Roster.nip, how="left")
        performance = snapshot.performance
        extra = [c for c in ("talent_box",) if c in performance.columns]
        people = people.merge(
            performance[[Performance.nip, Performance.performance_band, Performance.potential_band, *extra]],
            on=Roster.nip,
            how="left",
        )
        if "talent_box" not in people.columns:
            people["talent_box"] = pd.NA
        people["jp_state"] = _jp_states(people, self.year_share)
        rows = self._competency_rows(people[Roster.nip].tolist())
        rows = rows.merge(people[[Roster.nip, Roster.unit_id]], on=Roster.nip, how="inner")
        # Who has each competency in their standard (gap 0 included) decides a heatmap's blank versus 0.
        standard = rows.groupby([Roster.unit_id, CompetencyGaps.competency_id]).size()
        gaps = rows[rows[CompetencyGaps.gap] > 0].reset_index(drop=True)
        return _AgencyData(people=people.reset_index(drop=True), gaps=gaps, standard=standard)

    def _competency_rows(self, nips: list[str]) -> pd.DataFrame:
        """Every competency row of ``nips`` (nip, competency_id, gap), read once from the snapshot's file."""
        columns = [CompetencyGaps.nip, CompetencyGaps.competency_id, CompetencyGaps.gap]
        path = self.engine.reader.directory / "competency_gaps.parquet"
        if not nips:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        if path.exists():
            table = pq.read_table(path, columns=columns, filters=[(CompetencyGaps.nip, "in", nips)])
            frame = table.to_pandas()
        else:  # a snapshot held in memory (tests)
            frame = self.engine.snapshot.competency_gaps[columns]
            frame = frame[frame[CompetencyGaps.nip].isin(nips)]
        return frame.astype({CompetencyGaps.nip: str, CompetencyGaps.competency_id: str})

    def _overview(self, agency: str, data: _AgencyData) -> Overview:
        people, gaps = data.people, data.gaps
        units = people.groupby(Roster.unit_id).size().sort_index()
        jp = people["jp_state"].value_counts()
        year = people[Development.year].dropna()
        target = people[Development.jp_target].dropna()
        return Overview(
            agency=agency,
            staff=len(people),
            units=[(str(u), int(n)) for u, n in units.items()],
            year=int(year.iloc[0]) if len(year) else self.as_of.year,
            jp_target=float(target.median()) if len(target) else 20.0,
            year_share=self.year_share,
            jp={state: int(jp.get(state, 0)) for state in JP_STATES},
            mandatory=self._mandatory(people[Roster.nip]),
            heatmap=self._heatmap(people, gaps, data.standard),
            talent=_talent(people),
            talent_boxes=self._boxes(people),
            no_box=int(people["talent_box"].isna().sum()),
        )

    def _mandatory(self, nips: pd.Series) -> list[MandatoryLine]:
        table = self.engine.snapshot.mandatory
        due = table[table[Mandatory.due].astype(bool) & table[Mandatory.nip].isin(nips)]
        if due.empty:
            return []
        grouped = due.groupby(Mandatory.training_id).agg(
            due=(Mandatory.nip, "size"), enrolled=(Mandatory.enrolled, "sum")
        )
        info = self.engine.entry_info
        lines = [
            MandatoryLine(
                training_id=str(t),
                title=str(info.get(str(t), {}).get("title", t)),
                due=int(r.due),
                enrolled=int(r.enrolled),
            )
            for t, r in grouped.iterrows()
        ]
        return sorted(lines, key=lambda line: (-line.due, line.training_id))

    def _heatmap(self, people: pd.DataFrame, gaps: pd.DataFrame, standard: pd.Series) -> Heatmap:
        units = sorted(people[Roster.unit_id].unique().tolist())
        staff = people.groupby(Roster.unit_id).size()
        totals = (
            gaps.groupby(CompetencyGaps.competency_id)[CompetencyGaps.gap]
            .sum()
            .sort_values(ascending=False, kind="stable")
        )
        chosen = totals.index[:HEATMAP_COMPETENCIES].tolist()
        sums = gaps[gaps[CompetencyGaps.competency_id].isin(chosen)].pivot_table(
            index=Roster.unit_id,
            columns=CompetencyGaps.competency_id,
            values=CompetencyGaps.gap,
            aggfunc="sum",
        )
        sums = sums.reindex(index=units, columns=chosen).fillna(0.0)
        counts = standard.unstack().reindex(index=units, columns=chosen) if len(standard) else sums * np.nan
        values = (sums / counts).to_numpy(dtype=float)  # NaN where nobody has it in the standard
        names = self.engine.catalogue.names
        top = float(np.nanmax(values)) if np.isfinite(values).any() else 0.0
        return Heatmap(
            units=[str(u) for u in units],
            unit_staff=[int(staff.get(u, 0)) for u in units],
            competencies=[(str(c), names.get(str(c), str(c))) for c in chosen],
            values=values,
            top=top,
        )

    def _boxes(self, people: pd.DataFrame) -> dict[tuple[str, str], int]:
        known = people.dropna(subset=["talent_box", Performance.performance_band, Performance.potential_band])
        pairs = known.drop_duplicates([Performance.performance_band, Performance.potential_band])
        found = {
            (str(r[Performance.performance_band]), str(r[Performance.potential_band])): int(r["talent_box"])
            for r in pairs.to_dict("records")
        }
        standard = {  # PermenPANRB 3/2020's numbering where the data shows no example of a cell
            ("below", "low"): 1,
            ("below", "medium"): 2,
            ("meets", "low"): 3,
            ("below", "high"): 4,
            ("meets", "medium"): 5,
            ("above", "low"): 6,
            ("meets", "high"): 7,
            ("above", "medium"): 8,
            ("above", "high"): 9,
        }
        return {**standard, **found}


def _jp_states(people: pd.DataFrame, year_share: float) -> pd.Series:
    """``met`` when the year's JP reach the target, ``on_track`` when the JP earned are at least the
    target's share of the year gone by, ``behind`` otherwise, ``unknown`` without development data."""
    total = people[Development.jp_total].astype(float)
    target = people[Development.jp_target].astype(float)
    met = people[Development.meets_jp_target].fillna(False).astype(bool)
    state = np.where(
        total.isna(),
        "unknown",
        np.where(met, "met", np.where(total >= target * year_share, "on_track", "behind")),
    )
    return pd.Series(state, index=people.index)


def _talent(people: pd.DataFrame) -> dict[tuple[str, str], int]:
    counts = people.groupby([Performance.performance_band, Performance.potential_band]).size()
    return {(str(key[0]), str(key[1])): int(n) for key, n in counts.items()}  # type: ignore[index]


def _opt(value: object) -> float | None:
    if value is None or value is pd.NA:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if np.isnan(number) else number
