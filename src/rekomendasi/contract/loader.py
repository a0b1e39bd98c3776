"""Load a data directory into validated frames, with bad rows set aside in a quarantine report.

The only module that reads input files. File-level problems raise :class:`DataContractError` before
anything is returned; row-level problems quarantine the row (table, row, column, value, reason).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.errors as pa_errors
import pyarrow as pa
import pyarrow.compute as pc

from rekomendasi.contract.filechecks import refuse_duplicate_keys, refuse_numeric_nips
from rekomendasi.contract.reading import ROW, RawTable, read_raw
from rekomendasi.contract.schemas import TABLES, TABLES_BY_NAME, TableSpec
from rekomendasi.errors import DataContractError, QuarantineThresholdError

logger = logging.getLogger(__name__)

QUARANTINE_COLUMNS = ["table", "row", "column", "value", "reason"]
DEFAULT_MAX_QUARANTINE_SHARE = 0.05
_DTYPES = {
    "str": "str",
    "nip": "str",
    "enum": "str",
    "period": "str",
    "list": "str",
    "int": "Int64",
    "float": "float64",
    "date": "datetime64[us]",
    "bool": "boolean",
}
_ISO_DATE = r"\d{4}-\d{2}-\d{2}"
_BOOLS = {"true": True, "false": False, "1": True, "0": False}


@dataclass(frozen=True, slots=True)
class TableReport:
    """How one table loaded."""

    table: str
    file: str | None
    rows_read: int
    rows_quarantined: int
    top_reasons: tuple[tuple[str, int], ...] = ()

    @property
    def rows_loaded(self) -> int:
        """Rows that passed every check."""
        return self.rows_read - self.rows_quarantined

    @property
    def share_quarantined(self) -> float:
        """float: quarantined rows / rows read, in [0, 1]; 0 for an empty or absent table."""
        return self.rows_quarantined / self.rows_read if self.rows_read else 0.0


@dataclass(frozen=True)
class Dataset:
    """Validated tables of one data directory.

    Every contract table is present in ``tables``: an absent optional table is an empty frame with the
    contract's columns and dtypes, so downstream code needs no special case (``present`` says which
    files existed).
    """

    data_dir: Path
    tables: Mapping[str, pd.DataFrame]
    quarantine: pd.DataFrame
    reports: tuple[TableReport, ...]
    present: frozenset[str] = field(default_factory=frozenset)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def report(self, name: str) -> TableReport:
        """The load report of table ``name``."""
        return next(r for r in self.reports if r.table == name)

    def enforce_quarantine_share(self, max_share: float) -> None:
        """:func:`enforce_quarantine_share` on this dataset's reports."""
        enforce_quarantine_share(self.reports, max_share)


def enforce_quarantine_share(reports: tuple[TableReport, ...], max_share: float) -> None:
    """Raise when any table of ``reports`` quarantined more than ``max_share`` of its rows.

    Raises:
        QuarantineThresholdError: naming each table over the limit with its share and top reason.
    """
    over = [r for r in reports if r.share_quarantined > max_share]
    if over:
        details = "; ".join(
            f"{r.file}: {r.rows_quarantined} of {r.rows_read} rows ({r.share_quarantined:.1%})"
            + (f", mostly '{r.top_reasons[0][0]}'" if r.top_reasons else "")
            for r in over
        )
        raise QuarantineThresholdError(
            f"too many rows failed the contract (limit {max_share:.1%} per table): {details}. "
            "See the quarantine report, fix the export, or raise REKOMENDASI_MAX_QUARANTINE_SHARE."
        )


def empty_table(spec: TableSpec) -> pd.DataFrame:
    """A zero-row frame with the contract columns and dtypes of ``spec``."""
    return pd.DataFrame({c: pd.Series([], dtype=_DTYPES[spec.column_meta(c)["kind"]]) for c in spec.columns})


def locate_files(data_dir: Path) -> dict[str, Path]:
    """Map each contract table found in ``data_dir`` to its file.

    Raises:
        DataContractError: the directory is missing, a required table is absent, or a table has both
            a ``.csv`` and a ``.parquet`` file.
    """
    if not data_dir.is_dir():
        raise DataContractError(f"{data_dir}: no such data directory.")
    found: dict[str, Path] = {}
    for spec in TABLES:
        candidates = [data_dir / f"{spec.name}{ext}" for ext in (".csv", ".parquet")]
        existing = [p for p in candidates if p.is_file()]
        if len(existing) == 2:
            raise DataContractError(
                f"{spec.name}: both {spec.name}.csv and {spec.name}.parquet exist in {data_dir}; "
                "the data is ambiguous, keep exactly one."
            )
        if existing:
            found[spec.name] = existing[0]
        elif spec.required:
            raise DataContractError(
                f"{spec.name}.csv (or .parquet) is missing from {data_dir}: it is a required table "
                f"with columns {spec.columns}."
            )
    return found


def load_dataset(
    data_dir: Path | str,
    *,
    max_quarantine_share: float | None = DEFAULT_MAX_QUARANTINE_SHARE,
    on_table: Callable[[str], None] | None = None,
    only: Collection[str] | None = None,
) -> Dataset:
    """Read, parse and validate every table of a data directory (or the tables in ``only``).

    Args:
        data_dir: directory laid out as in data-contract.md.
        max_quarantine_share: fail when a table quarantines more than this share of its rows, in [0, 1];
            None leaves the decision to the caller (:meth:`Dataset.enforce_quarantine_share`).
        on_table: called with each table's name before it is loaded (progress display).
        only: load just these tables (the others are empty); include the tables they refer to,
            since foreign keys are checked against what was loaded.

    Raises:
        DataContractError: a file-level problem; nothing is returned.
        QuarantineThresholdError: too many quarantined rows in a table.
    """
    data_dir = Path(data_dir)
    files = locate_files(data_dir)
    tables: dict[str, pd.DataFrame] = {}
    issues: list[pd.DataFrame] = []
    reports: list[TableReport] = []
    for spec in TABLES:
        if on_table is not None:
            on_table(spec.name)
        path = files.get(spec.name) if only is None or spec.name in only else None
        if path is None:
            tables[spec.name] = empty_table(spec)
            reports.append(TableReport(spec.name, None, 0, 0))
            continue
        frame, table_issues = validate_rows(spec, read_checked(spec, path), tables)
        tables[spec.name] = frame
        issues.append(table_issues)
        reports.append(table_report(spec.name, path.name, len(frame), table_issues))
        logger.info("loaded %s: %d rows, %d quarantined", path.name, len(frame), reports[-1].rows_quarantined)
    quarantine = pd.concat(issues, ignore_index=True) if issues else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    dataset = Dataset(data_dir, tables, quarantine[QUARANTINE_COLUMNS], tuple(reports), frozenset(files))
    if max_quarantine_share is not None:
        dataset.enforce_quarantine_share(max_quarantine_share)
    return dataset


def table_report(table: str, file: str, rows_loaded: int, issues: pd.DataFrame) -> TableReport:
    """The load report of one table from its clean row count and its quarantine rows."""
    quarantined = int(issues["row"].nunique())
    reasons = (
        issues.groupby(["column", "reason"], sort=False).size().sort_values(ascending=False, kind="stable")
    )
    top = tuple((f"{key[0]}: {key[1]}", int(n)) for key, n in reasons.head(3).items())  # type: ignore[index]
    return TableReport(table, file, rows_loaded + quarantined, quarantined, top)


def read_checked(spec: TableSpec, path: Path) -> RawTable:
    """A table's file as text cells with ``_row``, after the file-level checks (columns, rows, NIPs
    exported as numbers, duplicate keys); the frame keeps ``_row`` and the contract's columns.

    Raises:
        DataContractError: a file-level problem (names the file, the column and what was expected).
    """
    raw = read_raw(path)
    frame = raw.frame
    missing = [c for c in spec.columns if c not in frame.columns]
    if missing:
        raise DataContractError(
            f"{path.name}: missing required column(s) {missing}; expected columns {spec.columns} "
            f"(found {[c for c in frame.columns if c != ROW]})."
        )
    if spec.required and len(frame) == 0 and not raw.malformed:
        raise DataContractError(f"{path.name}: has a header but no rows; {spec.name} is a required table.")
    frame = frame[[ROW, *spec.columns]]
    # Before the key check: NIPs that became floats collide as duplicate keys, which hides the cause.
    refuse_numeric_nips(spec, path, frame)
    refuse_duplicate_keys(spec, path, frame)
    return RawTable(frame=frame, malformed=raw.malformed)


def validate_rows(
    spec: TableSpec, raw: RawTable, loaded: Mapping[str, pd.DataFrame], *, keep_row: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse and check every row of a checked file (or of one part of it: rows keep their ``_row``);
    return the clean typed rows (in file order) and the quarantine rows, sorted by row and column.

    Args:
        loaded: the tables its foreign keys refer to, already validated.
        keep_row: the clean rows keep ``_row`` as their first column.
    """
    frame = raw.frame
    issues: list[pd.DataFrame] = [
        pd.DataFrame(
            {
                "row": [m.row for m in raw.malformed],
                "column": "*",
                "value": [m.text for m in raw.malformed],
                "reason": [
                    f"record has {m.fields} fields, the header has {m.expected}" for m in raw.malformed
                ],
            }
        )
    ]
    typed = pd.DataFrame({ROW: frame[ROW].to_numpy()}, index=frame[ROW].to_numpy())
    for column in spec.columns:
        meta = spec.column_meta(column)
        values, bad, reason = _parse(frame[column], meta["kind"])
        values.index = typed.index
        typed[column] = values
        if bad.any():
            issues.append(_issues(frame[ROW][bad], column, frame[column][bad], reason))
    typed.index.name = None
    issues.append(_schema_issues(spec, typed, frame))
    issues.append(_foreign_key_issues(spec, typed, frame, loaded))

    # One issue per cell: an unparsable value is not also reported as missing by the schema.
    table_issues = (
        pd.concat([i for i in issues if len(i)], ignore_index=True)
        if any(len(i) for i in issues)
        else _no_issues()
    )
    table_issues = table_issues.drop_duplicates(["row", "column"]).sort_values(
        ["row", "column"], kind="stable"
    )
    table_issues.insert(0, "table", spec.name)
    keep = ~typed[ROW].isin(table_issues["row"])
    clean = typed.loc[keep, [ROW, *spec.columns] if keep_row else spec.columns].reset_index(drop=True)
    return clean, table_issues.reset_index(drop=True)


def _no_issues() -> pd.DataFrame:
    return pd.DataFrame({"row": pd.Series([], dtype="int64"), "column": [], "value": [], "reason": []})


def _issues(rows: pd.Series, column: str, values: pd.Series, reason: str | pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row": rows.to_numpy(dtype="int64"),
            "column": column,
            "value": values.astype("str").to_numpy(),
            "reason": reason if isinstance(reason, str) else reason.to_numpy(),
        }
    )


def _parse(raw: pd.Series, kind: str) -> tuple[pd.Series, pd.Series, str]:
    """Convert text cells to ``kind``; return values, a mask of unparsable cells, and the reason."""
    present = raw.notna()
    if kind == "int":
        numbers = pd.to_numeric(raw, errors="coerce")
        finite = np.isfinite(numbers.to_numpy(dtype="float64", na_value=np.nan))
        bad = present & ~(finite & (numbers % 1 == 0).fillna(False))
        return numbers.where(~bad).astype("Int64"), bad, "not a whole number"
    if kind == "float":
        numbers = pd.to_numeric(raw, errors="coerce").astype("float64")
        bad = present & ~np.isfinite(numbers)
        return numbers.where(~bad), bad, "not a number"
    if kind == "date":
        iso = raw.str.fullmatch(_ISO_DATE).fillna(False).astype(bool)
        dates = pd.to_datetime(raw.where(iso), format="%Y-%m-%d", errors="coerce").astype("datetime64[us]")
        bad = present & dates.isna()
        return dates, bad, "not an ISO 8601 date (YYYY-MM-DD)"
    if kind == "bool":
        flags = raw.str.lower().map(_BOOLS).astype("boolean")
        bad = present & flags.isna()
        return flags, bad, "not a boolean (true/false)"
    return raw.astype("str"), pd.Series(False, index=raw.index), ""


def _schema_issues(spec: TableSpec, typed: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """Run the pandera model over the typed rows and turn its failure cases into quarantine rows."""
    try:
        spec.model.validate(typed[spec.columns], lazy=True)
    except pa_errors.SchemaErrors as err:
        cases = err.failure_cases
    else:
        return _no_issues()
    cases = cases[cases["index"].notna()]
    out = []
    raw_by_row = frame.set_index(ROW)
    for (check, column), group in cases.groupby(["check", "column"], sort=False, dropna=False):
        reason, target = _reason(str(check), str(column))
        if target != column:
            continue  # dataframe-level checks list every column of a failing row; report one
        rows = group["index"].astype("int64").drop_duplicates()
        values = (
            raw_by_row.loc[rows.to_numpy(), target]
            if target in raw_by_row.columns
            else pd.Series("", index=rows)
        )
        if reason == _NIP_REASON:
            reasons = values.map(_nip_reason)
            out.append(_issues(rows, target, values, reasons))
        else:
            out.append(_issues(rows, target, values, reason))
    return pd.concat(out, ignore_index=True) if out else _no_issues()


_NIP_REASON = "__nip__"
_DATAFRAME_CHECKS = {
    "predikat_matrix": ("predikat", "predikat does not match the matrix for hasil_kerja x perilaku_kerja"),
    "rating_or_text": ("rating", "feedback needs a rating or a text"),
    "completed_after_enrolled": ("completed_on", "completed_on is before enrolled_on"),
    "completed_needs_date": ("completed_on", "status completed needs completed_on"),
}
_CHECK_PATTERNS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"not_nullable"), lambda m: "required value is missing"),
    (re.compile(r"isin\(\[(.*)\]\)"), lambda m: _allowed(m.group(1))),
    (re.compile(r"str_matches\('\^\\d\{18\}\$'\)"), lambda m: _NIP_REASON),
    (re.compile(r"str_matches\(.*\)"), lambda m: "not a period (YYYY or YYYY-MM)"),
    (re.compile(r"greater_than_or_equal_to\((.*)\)"), lambda m: f"must be >= {m.group(1)}"),
    (re.compile(r"less_than_or_equal_to\((.*)\)"), lambda m: f"must be <= {m.group(1)}"),
    (re.compile(r"greater_than\((.*)\)"), lambda m: f"must be > {m.group(1)}"),
    (re.compile(r"list_of_jenis_jabatan"), lambda m: "every ';'-separated item must be a jenis_jabatan"),
    (
        re.compile(r"list_of_mandatory_conditions"),
        lambda m: "every ';'-separated item must be a known mandatory_for condition",
    ),
)


def _reason(check: str, column: str) -> tuple[str, str]:
    """Human reason and the column it belongs to, for a pandera check name."""
    if check in _DATAFRAME_CHECKS:
        target, reason = _DATAFRAME_CHECKS[check]
        return reason, target
    for pattern, render in _CHECK_PATTERNS:
        match = pattern.fullmatch(check)
        if match:
            return render(match), column
    return f"failed check {check}", column


def _allowed(listing: str) -> str:
    values = [v.strip().strip("'\"") for v in listing.split(",")]
    shown = ", ".join(values[:4])
    return f"not an allowed value ({shown}{', ...' if len(values) > 4 else ''}; {len(values)} allowed)"


def _nip_reason(value: object) -> str:
    text = str(value)
    if re.fullmatch(r"\d(\.\d+)?[eE]\+?\d+", text):
        return "NIP in scientific notation (a spreadsheet made it a number); export nip as text"
    if re.fullmatch(r"\d+[.,]\d*", text):
        return "NIP with a decimal part (a spreadsheet made it a number); export nip as text"
    if not text.isdigit():
        return "NIP must be exactly 18 digits; it contains other characters"
    return f"NIP must be exactly 18 digits; it has {len(text)}"


def _foreign_key_issues(
    spec: TableSpec, typed: pd.DataFrame, frame: pd.DataFrame, loaded: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    out = []
    for column in spec.columns:
        fk = spec.column_meta(column).get("fk")
        if fk is None:
            continue
        ref_table, ref_column = fk.split(".")
        known = loaded[ref_table][ref_column]
        bad = typed[column].notna() & ~_isin(typed[column], known)
        if bad.any():
            qualifier = " (or quarantined there)" if len(known) else ""
            out.append(
                _issues(
                    typed.loc[bad, ROW],
                    column,
                    frame.set_index(ROW).loc[typed.loc[bad, ROW], column],
                    f"unknown {ref_column}: not in {ref_table}{qualifier}",
                )
            )
    return pd.concat(out, ignore_index=True) if out else _no_issues()


def _isin(values: pd.Series, known: pd.Series) -> pd.Series:
    """``values.isin(known)``, hashed by Arrow: pandas' ``isin`` on Arrow strings first turns ``known``
    into a Python list, which a table validated in chunks against a million employees pays per chunk."""
    try:
        found = pc.is_in(pa.array(values), value_set=pa.array(known))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return values.isin(known)  # mixed or unusual types (hand-made frames): pandas' way
    return pd.Series(found.to_numpy(zero_copy_only=False), index=values.index, dtype=bool)


def write_quarantine(dataset: Dataset, path: Path) -> Path:
    """Write the quarantine report (table, row, column, value, reason) as CSV; header only if clean."""
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset.quarantine.to_csv(path, index=False)
    return path


__all__ = [
    "QUARANTINE_COLUMNS",
    "TABLES_BY_NAME",
    "Dataset",
    "TableReport",
    "empty_table",
    "enforce_quarantine_share",
    "load_dataset",
    "locate_files",
    "read_checked",
    "table_report",
    "validate_rows",
    "write_quarantine",
]
