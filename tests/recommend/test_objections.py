"""Standing objections in the recommendation core: dropped from the candidates and from stored rows alike
(the ranks close up behind them, both paths agree), from the batch file, and from agency plans' pairs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from rekomendasi.candidates import Catalogue, build_matrices
from rekomendasi.features import Snapshot
from rekomendasi.recommend import (
    NO_OBJECTIONS,
    Objections,
    ScoreOptions,
    ScoresStore,
    StoreId,
    score_employees,
    write_store,
)
from rekomendasi.recommend.batch import batch_table

from .conftest import LinearRanker

OPTIONS = ScoreOptions(candidates=40, top_n=12, explained=12)


@pytest.fixture(scope="module")
def scored(snapshot: Snapshot) -> pd.DataFrame:
    return score_employees(build_matrices(snapshot), LinearRanker(), OPTIONS)


def _objected(scored: pd.DataFrame) -> tuple[Objections, list[tuple[str, str]]]:
    """Objections to the 2nd and 5th entries of the first two employees."""
    nips = sorted(scored["nip"].unique())[:2]
    pairs = [
        (nip, str(scored[(scored["nip"] == nip) & (scored["rank"] == r)]["training_id"].iloc[0]))
        for nip in nips
        for r in (2, 5)
    ]
    return Objections.of_pairs(pairs), pairs


def _ids(rows: pd.DataFrame, nip: str) -> list[str]:
    return rows[rows["nip"] == nip].sort_values("rank")["training_id"].tolist()


def test_objected_entries_leave_the_list_and_the_ranks_close_up(
    snapshot: Snapshot, scored: pd.DataFrame
) -> None:
    objections, pairs = _objected(scored)
    m = build_matrices(snapshot)
    now = score_employees(m, LinearRanker(), OPTIONS, objections=objections)
    dropped = objections.drop(scored)
    for rows in (now, dropped):
        assert not any(((rows["nip"] == n) & (rows["training_id"] == t)).any() for n, t in pairs)
        assert (rows.groupby("nip")["rank"].apply(lambda r: list(r) == list(range(1, len(r) + 1)))).all()
    nip = pairs[0][0]
    before = _ids(scored, nip)
    assert _ids(dropped, nip) == [t for t in before if t not in {pairs[0][1], pairs[1][1]}]
    # Ranked now, an objecting employee still gets a full list: the next candidates move up.
    assert len(_ids(now, nip)) == OPTIONS.top_n and _ids(now, nip)[: len(before) - 2] == _ids(dropped, nip)
    others = sorted(set(scored["nip"]) - {p[0] for p in pairs})
    pd.testing.assert_frame_equal(
        now[now["nip"].isin(others)].reset_index(drop=True),
        scored[scored["nip"].isin(others)].reset_index(drop=True),
    )


def test_stored_rows_as_arrow_drop_the_same_way(scored: pd.DataFrame) -> None:
    objections, pairs = _objected(scored)
    nip = pairs[0][0]
    one = scored[scored["nip"] == nip].drop(columns=["instansi_id"]).reset_index(drop=True)
    table = pa.Table.from_pandas(one, preserve_index=False)
    dropped = objections.drop(table)
    assert isinstance(dropped, pa.Table)
    assert dropped.column("rank").to_pylist() == list(range(1, len(one) - 1))
    assert dropped.column("rank").type == table.column("rank").type
    assert dropped.column("training_id").to_pylist() == _ids(objections.drop(scored), nip)
    assert NO_OBJECTIONS.drop(table) is table and not NO_OBJECTIONS and objections.depth == 2


def test_the_batch_file_leaves_objections_out(
    tmp_path: Path, snapshot: Snapshot, scored: pd.DataFrame
) -> None:
    objections, pairs = _objected(scored)
    store_id = StoreId(snapshot.snapshot_id, "7", "0123456789abcdef")
    path = write_store(tmp_path / "scores", snapshot, LinearRanker(), store_id, OPTIONS)
    names = Catalogue.from_snapshot(snapshot).names
    plain = batch_table(ScoresStore(path), 5, names)
    batch = batch_table(ScoresStore(path), 5, names, objections=objections)
    assert len(batch) == len(plain) and batch.groupby("nip")["rank"].max().max() == 5
    nip = pairs[0][0]
    expected = [t for t in _ids(scored, nip) if t not in {pairs[0][1], pairs[1][1]}][:5]
    assert _ids(batch, nip) == expected
    untouched = ~batch["nip"].isin([p[0] for p in pairs])
    pd.testing.assert_frame_equal(
        batch[untouched].reset_index(drop=True),
        plain[~plain["nip"].isin([p[0] for p in pairs])].reset_index(drop=True),
    )
