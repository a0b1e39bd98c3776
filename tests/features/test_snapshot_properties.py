"""Laws of the snapshot: point-in-time correctness, determinism, and a row for everyone."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from rekomendasi.contract import Dataset
from rekomendasi.features import TABLES, EvidenceSpec, build_snapshot, write_snapshot
from rekomendasi.features.asof import DATE_COLUMNS, PERIOD_TABLES
from tests.features.conftest import AS_OF

FUTURE_TABLES = (*DATE_COLUMNS, *PERIOD_TABLES, "employees")


def _with_tables(dataset: Dataset, **tables: pd.DataFrame) -> Dataset:
    return dataclasses.replace(dataset, tables={**dataset.tables, **tables})


def _future_rows(dataset: Dataset, table: str, n: int, days_after: int, seed: int) -> pd.DataFrame:
    """``n`` valid rows of ``table`` dated ``days_after`` days after the as-of date."""
    frame = dataset[table]
    rows = frame.sample(n=n, replace=True, random_state=seed).reset_index(drop=True)
    day = pd.Timestamp(AS_OF) + pd.Timedelta(days=days_after)
    if table in DATE_COLUMNS:
        rows[DATE_COLUMNS[table]] = day
        if table == "training_history":
            rows["completed_on"] = rows["completed_on"].where(
                rows["completed_on"].isna(), day + pd.Timedelta(days=5)
            )
    elif table in PERIOD_TABLES:
        rows["period"] = f"{day.year + 1}" if seed % 2 else f"{day.year}-{day.month:02d}"
        if table == "indicators":
            rows["indicator_id"] = [f"IKI-F{seed}-{i}" for i in range(n)]
    else:  # employees who join after the as-of date
        rows["nip"] = [f"{990000000000000000 + seed * 1000 + i}" for i in range(n)]
        rows["entry_date"] = day
    return rows


def _snapshot(dataset: Dataset, spec: EvidenceSpec):  # type: ignore[no-untyped-def]
    return build_snapshot(dataset, AS_OF, spec, encoder=None)


# Each example builds two snapshots, so shrinking (minutes) is skipped: a failure prints its example.
@settings(
    max_examples=8,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    tables=st.lists(st.sampled_from(FUTURE_TABLES), min_size=1, max_size=len(FUTURE_TABLES), unique=True),
    n=st.integers(min_value=1, max_value=40),
    days_after=st.integers(min_value=1, max_value=900),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_future_evidence_never_changes_the_snapshot(
    small_dataset: Dataset, spec: EvidenceSpec, tables, n, days_after, seed
) -> None:  # type: ignore[no-untyped-def]
    before = _snapshot(small_dataset, spec)
    appended = {
        t: pd.concat(
            [small_dataset[t], _future_rows(small_dataset, t, n, days_after, seed)], ignore_index=True
        )
        for t in tables
    }
    after = _snapshot(_with_tables(small_dataset, **appended), spec)
    for name in TABLES:
        pdt.assert_frame_equal(before.table(name), after.table(name), obj=name)
    assert before.manifest["calibrations"] == after.manifest["calibrations"]


def test_future_completion_counts_as_still_enrolled(small_dataset: Dataset, spec: EvidenceSpec) -> None:
    history = small_dataset["training_history"].copy()
    done_before = history["status"].eq("completed") & history["completed_on"].le(pd.Timestamp(AS_OF))
    moved = history.copy()
    moved.loc[done_before, "completed_on"] = pd.Timestamp(AS_OF) + pd.Timedelta(days=30)
    snap = _snapshot(_with_tables(small_dataset, training_history=moved), spec)
    assert (snap.development["jp_training"] == 0).all()
    assert (snap.competency_gaps["n_training"] == 0).all()


def _digests(paths: list[Path]) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_same_input_gives_byte_identical_tables(
    small_dataset: Dataset, spec: EvidenceSpec, tmp_path: Path
) -> None:
    first = _digests(write_snapshot(_snapshot(small_dataset, spec), tmp_path / "a"))
    second = _digests(write_snapshot(_snapshot(small_dataset, spec), tmp_path / "b"))
    assert first == second
    assert set(first) == {f"{t}.parquet" for t in TABLES} | {"manifest.json"}


def test_employee_without_evidence_gets_prior_with_high_uncertainty(
    small_dataset: Dataset, spec: EvidenceSpec
) -> None:
    employees = small_dataset["employees"]
    newcomer = employees.iloc[[0]].copy()
    newcomer["nip"] = "200001012024011001"
    newcomer["entry_date"] = pd.Timestamp("2024-01-01")
    snap = _snapshot(
        _with_tables(small_dataset, employees=pd.concat([employees, newcomer], ignore_index=True)), spec
    )
    gaps = snap.competency_gaps[snap.competency_gaps["nip"] == "200001012024011001"]
    standard = small_dataset["position_standards"]
    assert len(gaps) == int((standard["position_id"] == newcomer["position_id"].iloc[0]).sum()) > 0
    assert gaps["prior_only"].all()
    assert (gaps[[c for c in gaps.columns if c.startswith("n_")]] == 0).all().all()
    assert np.allclose(gaps["uncertainty"], spec.prior.sd)
    evidenced = snap.competency_gaps[~snap.competency_gaps["prior_only"]]
    assert gaps["uncertainty"].min() > evidenced["uncertainty"].quantile(0.9)
    assert gaps["estimated_level"].between(1, 5).all() and gaps["gap"].notna().all()
    assert "200001012024011001" in set(snap.performance["nip"]) and "200001012024011001" in set(
        snap.development["nip"]
    )


def test_gaps_stay_in_range(small_dataset: Dataset, spec: EvidenceSpec) -> None:
    gaps = _snapshot(small_dataset, spec).competency_gaps
    assert gaps["estimated_level"].between(1, 5).all()
    assert (gaps["uncertainty"] > 0).all() and (gaps["uncertainty"] <= spec.prior.sd + 1e-9).all()
    assert np.allclose(gaps["gap"], gaps["required_level"] - gaps["estimated_level"], atol=1e-3)
    assert not gaps.duplicated(["nip", "competency_id"]).any()
    assert gaps["latest_evidence_on"].dropna().le(pd.Timestamp(AS_OF)).all()
    assert dt.date.fromisoformat(_snapshot(small_dataset, spec).manifest["as_of"]) == AS_OF


def test_the_reader_gives_each_persons_rows_as_the_whole_snapshot_does(
    small_dataset: Dataset, spec: EvidenceSpec, tmp_path: Path
) -> None:
    from rekomendasi.features import SnapshotReader, read_snapshot, storage

    written = build_snapshot(small_dataset, dt.date(2025, 12, 31), spec, encoder=None)
    storage.EMPLOYEES_PER_GROUP, before = 7, storage.EMPLOYEES_PER_GROUP  # many row groups
    try:
        write_snapshot(written, tmp_path / "snap")
    finally:
        storage.EMPLOYEES_PER_GROUP = before
    whole = read_snapshot(tmp_path / "snap")
    reader = SnapshotReader(tmp_path / "snap", cache_groups=3)
    nips = [*whole.roster["nip"].iloc[::11], "000000000000000000"]
    for nip in nips:
        one, expected = reader.person(nip), whole.subset([nip])
        for name in TABLES:
            pdt.assert_frame_equal(one.table(name), expected.table(name), obj=f"{name} of {nip}")
    for name in TABLES:  # and the whole read equals what was built
        pdt.assert_frame_equal(whole.table(name), written.table(name), obj=name)
