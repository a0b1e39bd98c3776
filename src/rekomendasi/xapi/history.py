"""Accepted xAPI statements as rows of the contract's ``training_history`` table, and merging those rows
into a data directory so the next snapshot and training use them.

One row per enrolment, keyed (nip, training_id, enrolled_on). Per employee and entry, statements are read
in time order:

- ``registered`` or ``attempted`` opens an enrolment (status ``enrolled``, ``enrolled_on`` its date); one
  that comes while an enrolment is still open belongs to it (the earliest date stays). After an outcome, a
  ``registered`` opens a new enrolment, and so does an ``attempted`` after a failure (a retake); an
  ``attempted`` after a completion is a revisit and changes nothing. One on the same day as the current
  enrolment's start stays in it (the key could not tell them apart).
- ``passed``, or ``completed`` whose result says ``success: true``, makes the enrolment ``completed``
  (``completed_on`` its date, kept when it was already completed); ``failed``, or ``completed`` with
  ``success: false``, makes it ``failed`` (no ``completed_on``, as the contract's failed rows have none).
  A verdict (pass or fail) decides over a plain ``completed``; between verdicts the later one decides (a
  retake). An outcome with no enrolment opened before it opens one on its own date.
- ``score`` is the enrolment's latest reported score (0-100); ``satisfaction`` and ``jp_earned`` stay
  empty (the loader gives a completed row the catalogue's JP).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rekomendasi.atomic import write_atomic
from rekomendasi.contract.reading import read_raw
from rekomendasi.contract.schemas import TABLES_BY_NAME
from rekomendasi.errors import DataContractError
from rekomendasi.xapi.verbs import STARTS, Verb

TABLE = TABLES_BY_NAME["training_history"]
HISTORY_COLUMNS: tuple[str, ...] = tuple(TABLE.columns)
"""The contract's training_history columns, in order."""
KEY: tuple[str, ...] = TABLE.primary_key


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """What the training history needs of one stored statement."""

    nip: str
    training_id: str
    verb: Verb
    day: dt.date
    timestamp: dt.datetime
    statement_id: str
    score: float | None = None
    success: bool | None = None


@dataclass(slots=True)
class _Enrolment:
    enrolled_on: dt.date
    status: str = "enrolled"
    completed_on: dt.date | None = None
    score: float | None = None
    verdict: bool = False
    events: list[HistoryEvent] = field(default_factory=list)


def history_frame(events: Iterable[HistoryEvent]) -> pd.DataFrame:
    """The training_history rows of ``events`` (module docstring), sorted by key, one row per key.

    Returns:
        A frame with :data:`HISTORY_COLUMNS`: dates as datetime64, ``score`` float in [0, 100] or NaN,
        ``satisfaction`` nullable Int64 (empty), ``jp_earned`` float (NaN).
    """
    ordered = sorted(events, key=lambda e: (e.nip, e.training_id, e.timestamp, e.statement_id))
    rows: list[dict[str, object]] = []
    for (nip, training_id), group in groupby(ordered, key=lambda e: (e.nip, e.training_id)):
        for enrolment in _enrolments(list(group)):
            rows.append(
                {
                    "nip": nip,
                    "training_id": training_id,
                    "enrolled_on": enrolment.enrolled_on,
                    "completed_on": enrolment.completed_on,
                    "status": enrolment.status,
                    "score": enrolment.score,
                    "satisfaction": None,
                    "jp_earned": None,
                }
            )
    frame = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    for column in ("nip", "training_id", "status"):
        frame[column] = frame[column].astype(object)
    for column in ("enrolled_on", "completed_on"):
        frame[column] = pd.to_datetime(frame[column])
    frame["score"] = frame["score"].astype("float64")
    frame["satisfaction"] = frame["satisfaction"].astype("Int64")
    frame["jp_earned"] = frame["jp_earned"].astype("float64")
    return frame


def _enrolments(events: list[HistoryEvent]) -> list[_Enrolment]:
    """One employee's enrolments in one entry, from their events in time order."""
    out: list[_Enrolment] = []
    current: _Enrolment | None = None
    for event in events:
        if event.verb in STARTS:
            if current is None or _opens_new(current, event):
                current = _Enrolment(event.day)
                out.append(current)
        else:
            if current is None:
                current = _Enrolment(event.day)
                out.append(current)
            _decide(current, event)
        if event.score is not None:
            current.score = event.score
    return out


def _opens_new(current: _Enrolment, start: HistoryEvent) -> bool:
    if current.status == "enrolled" or start.day == current.enrolled_on:
        return False
    return start.verb is Verb.REGISTERED or current.status == "failed"


def _decide(enrolment: _Enrolment, event: HistoryEvent) -> None:
    """Apply an outcome statement to its enrolment."""
    if event.verb is Verb.PASSED or (event.verb is Verb.COMPLETED and event.success is True):
        status, verdict = "completed", True
    elif event.verb is Verb.FAILED or (event.verb is Verb.COMPLETED and event.success is False):
        status, verdict = "failed", True
    else:  # a plain completion
        status, verdict = "completed", False
    if enrolment.verdict and not verdict:
        return
    if status == "completed":
        if enrolment.status != "completed":
            # local dates of statements in other time zones can run a day behind the enrolment's
            enrolment.completed_on = max(event.day, enrolment.enrolled_on)
    else:
        enrolment.completed_on = None
    enrolment.status, enrolment.verdict = status, enrolment.verdict or verdict


@dataclass(frozen=True, slots=True)
class MergeResult:
    """What merging did (or would do, for a dry run).

    Attributes:
        path: The training_history file.
        existing: Rows it held before.
        added: xAPI rows added (their key was not in the file).
        kept: xAPI rows not added because the file already held a row with their key (that row is kept).
        created: The file did not exist and was (or would be) created as CSV.
        written: Whether the file was written (False for a dry run or when nothing was added).
    """

    path: Path
    existing: int
    added: int
    kept: int
    created: bool
    written: bool


def merge_history(data_dir: Path, rows: pd.DataFrame, dry_run: bool = False) -> MergeResult:
    """Add ``rows`` (:func:`history_frame`'s) to the data directory's training_history file.

    The file is ``training_history.csv`` or ``.parquet``, whichever exists (a new CSV when neither). Its
    rows are kept as they are; a row of ``rows`` whose key the file already holds is not added (counted as
    kept). The file is replaced atomically: written beside, then renamed over it. A Parquet file keeps its
    column types; a CSV holds text. A contract column the file lacks is added (empty for its old rows).

    Raises:
        DataContractError: ``data_dir`` is no directory, both files exist, the file cannot be read, lacks
            a key column, or has a column type the new values cannot take.
    """
    if not data_dir.is_dir():
        raise DataContractError(f"{data_dir}: no such data directory.")
    found = [
        data_dir / f"{TABLE.name}{ext}"
        for ext in (".csv", ".parquet")
        if (data_dir / f"{TABLE.name}{ext}").is_file()
    ]
    if len(found) == 2:
        raise DataContractError(
            f"{TABLE.name}: both {TABLE.name}.csv and {TABLE.name}.parquet exist in {data_dir}; the data is "
            "ambiguous, keep exactly one."
        )
    path = found[0] if found else data_dir / f"{TABLE.name}.csv"
    existing = _existing(path) if found else pd.DataFrame(columns=list(HISTORY_COLUMNS))
    missing = [c for c in KEY if c not in existing.columns]
    if missing:
        raise DataContractError(f"{path.name}: lacks the key column(s) {missing}; expected {list(KEY)}.")
    keys = set(zip(*(existing[c].astype(str) for c in KEY), strict=True)) if len(existing) else set()
    new = [row for row in _text_rows(rows) if tuple(str(row[c]) for c in KEY) not in keys]
    result = MergeResult(path, len(existing), len(new), len(rows) - len(new), not found, False)
    if dry_run or not new:
        return result
    columns = [*existing.columns, *(c for c in HISTORY_COLUMNS if c not in existing.columns)]
    if path.suffix == ".parquet":
        data = _parquet_bytes(path, columns, new)
    else:
        data = _csv_bytes(existing, columns, new)
    write_atomic(path, data)
    return MergeResult(path, result.existing, result.added, result.kept, result.created, True)


def _existing(path: Path) -> pd.DataFrame:
    frame = read_raw(path).frame.drop(columns="_row")
    return frame.astype(object).where(frame.notna(), None)


def _text_rows(rows: pd.DataFrame) -> list[dict[str, object]]:
    """``rows`` with dates as ``dt.date`` and nulls as None (keys compare as ISO text)."""
    out = []
    for record in rows.to_dict("records"):
        row: dict[str, object] = {}
        for name, value in record.items():
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                row[str(name)] = None
            elif isinstance(value, pd.Timestamp | dt.datetime):
                row[str(name)] = value.date()
            else:
                row[str(name)] = value
        for name in KEY:
            key_value = row[name]
            if isinstance(key_value, dt.date):
                row[name] = key_value.isoformat()
        out.append(row)
    return out


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return format(value, ".10g")
    return str(value)


def _csv_bytes(existing: pd.DataFrame, columns: list[str], new: list[dict[str, object]]) -> bytes:
    arrays = {
        name: pa.array(
            [
                *(existing[name].tolist() if name in existing else [None] * len(existing)),
                *(_text(r.get(name)) for r in new),
            ],
            type=pa.string(),
        )
        for name in columns
    }
    buffer = io.BytesIO()
    pacsv.write_csv(pa.table(arrays), buffer, write_options=pacsv.WriteOptions(quoting_style="needed"))
    return buffer.getvalue()


_NEW_COLUMN_TYPES = {
    "enrolled_on": pa.date32(),
    "completed_on": pa.date32(),
    "score": pa.float64(),
    "satisfaction": pa.int64(),
    "jp_earned": pa.float64(),
}


def _parquet_bytes(path: Path, columns: list[str], new: list[dict[str, object]]) -> bytes:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise DataContractError(f"{path.name}: cannot be read as Parquet ({err}).") from err
    for name in columns:
        if name not in table.column_names:
            kind = _NEW_COLUMN_TYPES.get(name, pa.string())
            table = table.append_column(pa.field(name, kind), pa.nulls(len(table), kind))
    added = pa.table(
        {
            name: _arrow(path, name, table.schema.field(name).type, [r.get(name) for r in new])
            for name in columns
        },
        schema=table.schema,
    )
    buffer = io.BytesIO()
    pq.write_table(pa.concat_tables([table, added]), buffer)
    return buffer.getvalue()


def _arrow(path: Path, name: str, kind: pa.DataType, values: list[object]) -> pa.Array:
    """``values`` as an array of the file's column type ``kind``."""
    converted: list[object]
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        converted = [_text(v) for v in values]
    elif pa.types.is_timestamp(kind):
        converted = [None if v is None else pd.Timestamp(str(v)) for v in values]
    elif pa.types.is_date(kind):
        converted = [None if v is None else dt.date.fromisoformat(str(v)) for v in values]
    else:
        converted = values
    try:
        return pa.array(converted, type=kind, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError) as err:
        raise DataContractError(
            f"{path.name}: column {name} is of type {kind}, which cannot hold the new rows' values ({err})."
        ) from err


__all__ = ["HISTORY_COLUMNS", "HistoryEvent", "MergeResult", "history_frame", "merge_history"]
