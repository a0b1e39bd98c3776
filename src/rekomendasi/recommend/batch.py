"""The contract's batch output (data-contract.md, "Batch recommendations"), read from the scores store:
one row per (employee, rank) with a one-sentence Indonesian reason naming the gap(s) addressed.

Each agency's rows are made by themselves (:func:`agency_batch`), in this process or on a Dask cluster,
and written as one Parquet part per agency; the parts are then merged into the file in (nip, rank) order
by DuckDB, which sorts out of core and streams the result, so no process holds the national file.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rekomendasi.cluster import InProcess, Runner
from rekomendasi.explain import GAP_OPEN, Lang, gaps_from_records, reason
from rekomendasi.recommend.filters import NO_OBJECTIONS, Objections
from rekomendasi.recommend.schemas import Scores
from rekomendasi.recommend.store import ScoresStore

_REASON = "reason"
BATCH_COLUMNS = (Scores.nip, Scores.rank, Scores.training_id, Scores.score, _REASON)
"""Columns of the batch file in order: the scores store's long format (whose names data-contract.md
fixes) and the reason."""
MERGE_BATCH_ROWS = 200_000
"""Rows per chunk of the merged file as DuckDB streams it out."""


def batch_table(
    store: ScoresStore,
    k: int,
    names: Mapping[str, str],
    lang: Lang = "id",
    progress: Callable[[int, int], None] | None = None,
    objections: Objections = NO_OBJECTIONS,
) -> pd.DataFrame:
    """Every stored employee's top ``k`` (at most the store's N) in memory, without their standing
    ``objections``: nip, rank, training_id, score, reason; sorted by nip and rank. (:func:`write_batch`
    writes the same rows to a file.)

    Raises:
        ValueError: ``k`` is larger than the store keeps.
    """
    _check_k(store, k)
    agencies = store.agencies()
    parts = []
    for done, agency in enumerate(agencies, 1):
        parts.append(_rows(_top(store, agency, k, objections), names, lang))
        if progress is not None:
            progress(done, len(agencies))
    if not parts:
        return _empty()
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values([Scores.nip, Scores.rank], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class BatchContext:
    """What every agency's batch rows need, sent to each worker once."""

    store: Path
    k: int
    names: Mapping[str, str]
    lang: Lang
    directory: Path  # where the parts go
    objections: Objections = NO_OBJECTIONS


@dataclass(frozen=True)
class BatchWritten:
    """What :func:`write_batch` wrote."""

    rows: int
    employees: int


def agency_batch(agency: str, context: BatchContext) -> int:
    """One agency's batch rows from the store, written as a Parquet part; returns its row count."""
    top = _top(ScoresStore(context.store), agency, context.k, context.objections)
    frame = _rows(top, context.names, context.lang)
    target = context.directory / f"{quote(agency, safe='')}.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), target)
    return len(frame)


def write_batch(
    store: ScoresStore,
    k: int,
    names: Mapping[str, str],
    out: Path,
    write_chunks: Callable[[Iterator[pd.DataFrame], Path], int],
    lang: Lang = "id",
    runner: Runner | None = None,
    progress: Callable[[int, int], None] | None = None,
    objections: Objections = NO_OBJECTIONS,
) -> BatchWritten:
    """Write every stored employee's top ``k`` to ``out``, sorted by nip and rank (the rows of
    :func:`batch_table`, without the standing ``objections``), agency by agency on ``runner``, merged by
    DuckDB.

    Args:
        write_chunks: streams frames of one schema into a file (CSV or Parquet by its extension).

    Raises:
        ValueError: ``k`` is larger than the store keeps.
        PartitionFailed: an agency failed on every attempt.
    """
    import duckdb

    _check_k(store, k)
    run = runner or InProcess()
    agencies = store.agencies()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".rekomendasi-batch-parts-", dir=out.parent) as scratch:
        parts = Path(scratch)
        run.visible(parts)
        shared = run.share(BatchContext(store.path, k, dict(names), lang, parts, objections))
        rows = sum(
            n
            for _, n in run.map(
                agency_batch, ((a, a) for a in agencies), shared, total=len(agencies), progress=progress
            )
        )
        if rows == 0:
            write_chunks(iter([_empty()]), out)
            return BatchWritten(0, 0)
        with duckdb.connect(config={"temp_directory": str(parts / "duckdb.tmp")}) as db:
            source = f"read_parquet('{_sql_path(parts)}/*.parquet')"
            [(employees,)] = db.execute(f"SELECT count(DISTINCT {Scores.nip}) FROM {source}").fetchall()
            columns = ", ".join(BATCH_COLUMNS)
            merged = db.query(f"SELECT {columns} FROM {source} ORDER BY {Scores.nip}, {Scores.rank}")
            reader = merged.to_arrow_reader(MERGE_BATCH_ROWS)
            written = write_chunks((batch.to_pandas() for batch in reader), out)
    if written != rows:
        raise RuntimeError(f"the merged batch file has {written:,} rows, the agencies wrote {rows:,}")
    return BatchWritten(rows, int(employees))


def _top(store: ScoresStore, agency: str, k: int, objections: Objections) -> pd.DataFrame:
    """One agency's top ``k`` from the store without the objected entries: read deep enough that the
    most objections of one person still leave k (the store's N permitting), then cut."""
    rows = objections.drop(store.read(agency, max_rank=min(k + objections.depth, store.top_n)))
    return rows[rows[Scores.rank] <= k].reset_index(drop=True) if objections else rows


def _rows(scores: pd.DataFrame, names: Mapping[str, str], lang: Lang) -> pd.DataFrame:
    # Arrow's own conversion of the list-of-struct column: eight times faster than iterating pandas' array.
    reasons = _reasons(pa.array(scores[Scores.gaps].array).to_pylist(), names, lang)
    frame = pd.DataFrame(
        {
            Scores.nip: scores[Scores.nip],
            Scores.rank: scores[Scores.rank].astype("int64"),
            Scores.training_id: scores[Scores.training_id],
            Scores.score: scores[Scores.score].round(6),
            _REASON: pd.Series(reasons, dtype="str", index=scores.index),
        }
    )
    return frame[list(BATCH_COLUMNS)]


def _reasons(records: list[list[dict[str, Any]]], names: Mapping[str, str], lang: Lang) -> list[str]:
    """:func:`~rekomendasi.explain.reason` of each row's gap records, each distinct sentence made once.

    A reason depends on the gaps only through their competencies, whether each is open, and the levels
    as the sentence writes them (estimated to one decimal, required and target whole), so rows that agree
    on those share it: a national batch has far fewer sentences than rows.
    """
    memo: dict[tuple[tuple[object, ...], ...], str] = {}
    out = []
    for gaps in records:
        key = tuple(
            (
                g["competency_id"],
                g["gap"] > GAP_OPEN,
                None if g["required_level"] is None else format(g["required_level"], ".0f"),
                format(1.0 if g["estimated_level"] is None else g["estimated_level"], ".1f"),
                format(g["target_level"], ".0f"),
            )
            for g in gaps
        )
        text = memo.get(key)
        if text is None:
            text = memo[key] = reason(gaps_from_records(gaps, names), lang)
        out.append(text)
    return out


def _check_k(store: ScoresStore, k: int) -> None:
    if k > store.top_n:
        raise ValueError(f"the store keeps {store.top_n} entries per employee; k={k} asks for more.")


def _empty() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series([], dtype="object") for column in BATCH_COLUMNS})


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
