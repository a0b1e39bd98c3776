"""Plan files: the assignments as CSV or Parquet, a workbook for HR planners (XLSX), money in planners'
words (:func:`rupiah`) and the what-if chart (JP coverage and expected gain against budget).

CSV follows the project's writer (:func:`rekomendasi.contract.writing.write_table`): UTF-8 without BOM,
quotes only where needed, booleans ``true``/``false``, a missing gain an empty cell, NIPs as 18-digit text.
Every file is written atomically: to a hidden temporary file beside the target, then renamed over it, so a
failed write never leaves half a file. openpyxl and matplotlib are imported only when a workbook or a chart
is made (the API starts without them).
"""

from __future__ import annotations

import io
import math
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rekomendasi.atomic import write_atomic
from rekomendasi.errors import BadRequest
from rekomendasi.plans.schemas import OUTPUT_COLUMNS, Assignments, Lang, Plan, PlanSummary, output_table

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

ExportFormat = Literal["csv", "parquet", "xlsx"]
"""What :func:`plan_bytes` writes; a file's format is its suffix (any case)."""
FORMATS: dict[str, ExportFormat] = {f".{fmt}": fmt for fmt in get_args(ExportFormat)}
"""Format by file suffix: ``.csv``, ``.parquet``, ``.xlsx``."""
_REASON = "reason"  # output_table's column: reason_id or reason_en by language

COLUMN_LABELS: dict[Lang, dict[str, str]] = {
    "id": {
        Assignments.nip: "NIP",
        Assignments.unit_id: "Unit kerja",
        Assignments.training_id: "ID pelatihan",
        Assignments.title: "Judul",
        Assignments.modality: "Moda",
        Assignments.jp: "JP",
        Assignments.cost_idr: "Biaya (Rp)",
        Assignments.expected_gain: "Perkiraan penutupan kesenjangan (level)",
        Assignments.mandatory: "Wajib",
        Assignments.competencies: "Kompetensi",
        _REASON: "Alasan",
    },
    "en": {
        Assignments.nip: "NIP",
        Assignments.unit_id: "Work unit",
        Assignments.training_id: "Training ID",
        Assignments.title: "Title",
        Assignments.modality: "Modality",
        Assignments.jp: "JP",
        Assignments.cost_idr: "Cost (IDR)",
        Assignments.expected_gain: "Expected gap closure (levels)",
        Assignments.mandatory: "Mandatory",
        Assignments.competencies: "Competencies",
        _REASON: "Reason",
    },
}
"""Headers of the workbook's assignment sheets, by output column (``OUTPUT_COLUMNS``)."""

_WORDS: dict[str, tuple[str, str]] = {
    "sheet": ("Ringkasan", "Summary"),
    "title": ("Rencana pengembangan kompetensi (AKPK)", "Competency development plan (AKPK)"),
    "agency": ("Instansi", "Agency"),
    "unit": ("Unit kerja", "Work unit"),
    "all_units": ("Semua unit", "All units"),
    "year": ("Tahun rencana", "Plan year"),
    "as_of": ("Data per tanggal", "Data as of"),
    "budget": ("Anggaran (Rp)", "Budget (IDR)"),
    "total_cost": ("Total biaya (Rp)", "Total cost (IDR)"),
    "min_jp": ("Batas minimal JP per pegawai", "Minimum JP per person"),
    "staff": ("Jumlah pegawai", "Staff"),
    "at_floor": ("Pegawai yang mencapai batas JP", "Staff reaching the JP floor"),
    "share": ("Persentase pegawai yang mencapai batas JP", "Share of staff reaching the JP floor"),
    "gain": ("Perkiraan penutupan kesenjangan (level)", "Expected gap closure (levels)"),
    "mandatory_due": ("Program wajib jatuh tempo", "Mandatory programmes due"),
    "mandatory_funded": ("Program wajib terdanai", "Mandatory programmes funded"),
    "budget_for_all": (
        "Anggaran agar semua pegawai mencapai batas JP (Rp)",
        "Budget for all staff to reach the JP floor (IDR)",
    ),
    "unreachable": ("tidak tercapai dengan katalog saat ini", "not reachable with the current catalogue"),
    "status": ("Status solver", "Solver status"),
    "mip_gap": ("Selisih optimalitas", "Optimality gap"),
    "model": ("Versi model", "Model version"),
    "snapshot": ("ID snapshot", "Snapshot ID"),
    "groups": ("Menurut kelompok", "By group"),
    "binding": ("Yang membatasi rencana", "What limits the plan"),
    "no_binding": ("Tidak ada", "Nothing"),
    "yes": ("Ya", "Yes"),
    "no": ("Tidak", "No"),
    "g_dimension": ("Dimensi", "Dimension"),
    "g_group": ("Kelompok", "Group"),
    "g_staff": ("Pegawai", "Staff"),
    "g_at_floor": ("Mencapai batas JP", "At JP floor"),
    "g_share": ("Persentase", "Share"),
    "g_cost": ("Biaya (Rp)", "Cost (IDR)"),
    "g_gain": ("Perkiraan penutupan kesenjangan (level)", "Expected gap closure (levels)"),
    "g_assignments": ("Penugasan", "Assignments"),
    "d_all": ("Semua pegawai", "All staff"),
    "d_unit_id": ("Unit kerja", "Work unit"),
    "d_gender": ("Jenis kelamin", "Gender"),
    "d_status": ("Status kepegawaian", "Employment status"),
    "s_time limit": ("batas waktu tercapai", "time limit"),
    "s_time limit in some units": ("batas waktu tercapai di sebagian unit", "time limit in some units"),
    "s_infeasible": ("tidak layak", "infeasible"),
    "s_by unit: ": ("per unit: ", "by unit: "),
    "chart_title": (
        "Cakupan JP dan perkiraan penutupan kesenjangan menurut anggaran",
        "JP coverage and expected gap closure by budget",
    ),
    "chart_x": ("Anggaran", "Budget"),
    "chart_coverage": ("Pegawai yang mencapai batas JP (%)", "Staff reaching the JP floor (%)"),
    "chart_gain": ("Perkiraan penutupan kesenjangan (level)", "Expected gap closure (levels)"),
}
"""Every other word of the workbook and the chart, side by side ``key: (Indonesian, English)``: summary
labels, group table headers (``g_``), group dimensions (``d_``), solver statuses (``s_``; others are shown as
they are) and chart labels."""
TEXT: dict[Lang, dict[str, str]] = {
    lang: {key: pair[i] for key, pair in _WORDS.items()} for i, lang in enumerate(get_args(Lang))
}
"""The words by language: ``TEXT["id"]["sheet"] == "Ringkasan"``."""

_MONEY_UNITS: dict[Lang, tuple[str, tuple[str, str, str]]] = {
    "id": ("Rp", ("jt", "M", "T")),
    "en": ("IDR", ("m", "bn", "tn")),
}
_RUPIAH, _INT, _GAIN, _SHARE, _DATE = "#,##0", "0", "0.00", "0.0%", "yyyy-mm-dd"
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
_SHEET_MAX = 31
_POINT_COLUMNS = ("budget_idr", "total_cost_idr", "at_floor", "staff", "share_at_floor", "expected_gain")


def number(value: float | Decimal, lang: str = "id", decimals: int = 0) -> str:
    """A number the planner's way: Indonesian groups thousands with '.' and writes decimals with ','
    (``1.069``, ``35,55``); English the other way round (``1,069``, ``35.55``)."""
    text = f"{value:,.{decimals}f}"
    return text.translate(str.maketrans(",.", ".,")) if lang == "id" else text


def rupiah(amount: float, lang: Lang = "id") -> str:
    """Money as planners say it: ``Rp 12.500``, ``Rp 850 jt``, ``Rp 1,2 M``, ``Rp 2,0 M``, ``Rp 1,5 T``
    (English: ``IDR 12,500``, ``IDR 850 m``, ``IDR 1.2 bn``, ``IDR 1.5 tn``).

    Below a million: whole rupiah. Juta (m): one decimal, dropped when it is 0 (``Rp 850 jt``,
    ``Rp 12,5 jt``). Miliar (bn) and triliun (tn): always one decimal, as in "untuk semua pegawai dibutuhkan
    Rp 2,0 M". Rounding is half up, and an amount that rounds to 1000 of a unit is shown in the next one
    (Rp 999.960.000 is ``Rp 1,0 M``, not ``Rp 1000 jt``). Indonesian groups thousands with '.' and writes
    decimals with ','; English the other way round. A negative amount starts with '-'.

    Raises:
        ValueError: ``amount`` is NaN or infinite.
    """
    if not math.isfinite(amount):
        raise ValueError(f"rupiah() needs a finite amount, got {amount!r}")
    prefix, units = _MONEY_UNITS[lang]
    value = abs(Decimal(amount) if isinstance(amount, int) else Decimal(str(amount)))
    scale, unit = 1, ""
    shown = value.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    for power, name in zip((6, 9, 12), units, strict=True):
        if shown * scale < 10**power:  # compared after rounding: Rp 999.999,6 is "Rp 1 jt"
            break
        scale, unit = 10**power, name
        shown = (value / scale).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    whole = shown == shown.to_integral_value()
    decimals = 0 if not unit or (unit == units[0] and whole) else 1  # "Rp 850 jt", "Rp 2,0 M"
    text = number(shown, lang, decimals)
    sign = "-" if amount < 0 and shown != 0 else ""
    return f"{sign}{prefix} {text}" + (f" {unit}" if unit else "")


def write_plan(plan: Plan, path: Path, lang: Lang | None = None) -> Path:
    """Write the plan to ``path`` in the format its suffix names, atomically.

    ``.csv`` and ``.parquet`` hold the assignments as :func:`~rekomendasi.plans.schemas.output_table`
    shows them; ``.xlsx`` a workbook: a summary sheet, then one sheet of assignments per unit.

    Args:
        plan: the solved plan.
        path: the file to write (its folder is created); ``.csv``, ``.parquet`` or ``.xlsx``.
        lang: language of the reasons and the workbook's words; None: the plan request's.

    Returns:
        Path: ``path``.

    Raises:
        BadRequest: another suffix, or an unknown language.
    """
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise BadRequest(
            f"{path.name}: write a plan to a {', '.join(FORMATS)} file, "
            f"got suffix {path.suffix or '(none)'!r}"
        )
    write_atomic(path, plan_bytes(plan, fmt, lang))
    return path


def plan_bytes(plan: Plan, fmt: ExportFormat, lang: Lang | None = None) -> bytes:
    """The content :func:`write_plan` writes for format ``fmt``, in memory (the API's export).

    Raises:
        BadRequest: an unknown format or language.
    """
    lang = _language(plan, lang)
    if fmt == "xlsx":
        return _workbook(plan, lang)
    if fmt not in ("csv", "parquet"):
        raise BadRequest(f"a plan is exported as {', '.join(FORMATS)}; got format {fmt!r}")
    table = _arrow(output_table(plan.assignments, lang))
    buffer = pa.BufferOutputStream()
    if fmt == "csv":
        pacsv.write_csv(table, buffer, write_options=pacsv.WriteOptions(quoting_style="needed"))
    else:
        pq.write_table(table, buffer)
    return bytes(buffer.getvalue().to_pybytes())


def what_if_chart(points: pd.DataFrame, path: Path, lang: Lang = "id") -> Path:
    """A PNG of JP coverage (% of staff at the floor, left axis) and expected gap closure (levels, right
    axis) against budget (in :func:`rupiah` words), titled in ``lang``; written atomically.

    Args:
        points: one row per budget (:func:`rekomendasi.plans.core.what_if`): ``budget_idr``,
            ``total_cost_idr``, ``at_floor``, ``staff``, ``share_at_floor`` (in [0, 1]), ``expected_gain``.
        path: the PNG file to write (its folder is created).
        lang: language of the title, axes and money.

    Returns:
        Path: ``path``.

    Raises:
        ValueError: ``points`` misses a column or has no row.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    missing = [column for column in _POINT_COLUMNS if column not in points.columns]
    if missing or points.empty:
        raise ValueError(f"what-if points need rows with columns {list(_POINT_COLUMNS)}; missing {missing}")
    words = TEXT[lang]
    data = points.sort_values("budget_idr")
    budget = data["budget_idr"].to_numpy(dtype=float)
    figure = Figure(figsize=(8, 4.8), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)  # Agg, without pyplot's global state (safe in the API's threads)
    coverage_axis = figure.add_subplot()
    coverage = coverage_axis.plot(
        budget, 100 * data["share_at_floor"].to_numpy(dtype=float), marker="o", color="tab:blue",
        label=words["chart_coverage"],
    )  # fmt: skip
    coverage_axis.set_ylim(0, 105)
    coverage_axis.yaxis.set_major_formatter(PercentFormatter(100))
    coverage_axis.set_ylabel(words["chart_coverage"], color="tab:blue")
    coverage_axis.set_xlabel(words["chart_x"])
    coverage_axis.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: rupiah(x, lang)))
    coverage_axis.tick_params(axis="x", labelrotation=20)
    coverage_axis.grid(alpha=0.3)
    gain_axis = coverage_axis.twinx()
    gain = gain_axis.plot(
        budget, data["expected_gain"].to_numpy(dtype=float), marker="s", linestyle="--",
        color="tab:orange", label=words["chart_gain"],
    )  # fmt: skip
    gain_axis.set_ylim(bottom=0)
    gain_axis.set_ylabel(words["chart_gain"], color="tab:orange")
    coverage_axis.set_title(words["chart_title"])
    coverage_axis.legend(handles=coverage + gain, loc="lower right")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    write_atomic(path, buffer.getvalue())
    return path


def _language(plan: Plan, lang: Lang | None) -> Lang:
    chosen = plan.request.lang if lang is None else lang
    if chosen not in COLUMN_LABELS:
        raise BadRequest(f"a plan is exported in {' or '.join(COLUMN_LABELS)}; got language {chosen!r}")
    return chosen


def _arrow(table: pd.DataFrame) -> pa.Table:
    """Typed as the schema says (text stays text however it looks), nulls from NaN."""
    types = {
        Assignments.jp: pa.float64(),
        Assignments.cost_idr: pa.int64(),
        Assignments.expected_gain: pa.float64(),
        Assignments.mandatory: pa.bool_(),
    }
    return pa.table(
        {
            column: pa.array(
                table[column].to_numpy(dtype=object), type=types.get(column, pa.string()), from_pandas=True
            )
            for column in OUTPUT_COLUMNS
        }
    )


def _sheet_name(unit: str, taken: set[str]) -> str:
    """A sheet name Excel accepts for ``unit``: forbidden characters as '_', at most 31 characters, no
    leading or trailing apostrophe, unique ignoring case (``taken`` holds used names, casefolded)."""
    base = _SHEET_FORBIDDEN.sub("_", unit).strip().strip("'").strip() or "Unit"
    name, copy = base[:_SHEET_MAX].rstrip("' "), 1
    while name.casefold() in taken:
        copy += 1
        suffix = f" ({copy})"
        name = base[: _SHEET_MAX - len(suffix)].rstrip("' ") + suffix
    taken.add(name.casefold())
    return name


def _cell(value: Any) -> Any:
    """A value openpyxl writes as Excel expects: NaN as an empty cell (openpyxl would write 'nan')."""
    return None if isinstance(value, float) and math.isnan(value) else value


def _workbook(plan: Plan, lang: Lang) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    summary = book.active
    assert summary is not None  # a new workbook has one sheet
    summary.title = TEXT[lang]["sheet"]
    _summary_sheet(summary, plan.summary, lang)
    table = output_table(plan.assignments, lang)
    taken = {summary.title.casefold(), "history"}  # Excel reserves "History"
    for unit, rows in table.groupby(Assignments.unit_id, sort=True):
        _assignment_sheet(book.create_sheet(_sheet_name(str(unit), taken)), rows, lang)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _summary_sheet(sheet: Worksheet, summary: PlanSummary, lang: Lang) -> None:
    from openpyxl.styles import Alignment, Font

    words, bold = TEXT[lang], Font(bold=True)
    for_all = words["unreachable"] if summary.budget_for_all_idr is None else summary.budget_for_all_idr
    status = summary.solver_status
    for phrase in ("by unit: ", "time limit in some units", "time limit", "infeasible"):
        status = status.replace(phrase, words[f"s_{phrase}"])
    # (label, value, number format, whether column C repeats it in words: "Rp 1,2 M")
    facts: list[tuple[str, Any, str | None, bool]] = [
        ("agency", summary.agency, None, False),
        ("unit", summary.unit or words["all_units"], None, False),
        ("year", summary.year, _INT, False),
        ("as_of", summary.as_of, _DATE, False),
        ("budget", summary.budget_idr, _RUPIAH, True),
        ("total_cost", summary.total_cost_idr, _RUPIAH, True),
        ("min_jp", summary.min_jp, "General", False),
        ("staff", summary.staff, _RUPIAH, False),
        ("at_floor", summary.at_floor, _RUPIAH, False),
        ("share", summary.share_at_floor, _SHARE, False),
        ("gain", summary.expected_gain, _GAIN, False),
        ("mandatory_due", summary.mandatory_due, _RUPIAH, False),
        ("mandatory_funded", summary.mandatory_funded, _RUPIAH, False),
        ("budget_for_all", for_all, _RUPIAH, True),
        ("status", status, None, False),
        ("mip_gap", summary.mip_gap, "0.00%", False),
        ("model", summary.model_version, None, False),
        ("snapshot", summary.snapshot_id, None, False),
    ]
    sheet.append([f"{words['title']}: {summary.agency} {summary.year}"])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([])
    for key, value, number_format, in_words in facts:
        spoken = rupiah(value, lang) if in_words and not isinstance(value, str) else None
        sheet.append([words[key], _cell(value), spoken])
        label, cell = sheet.cell(sheet.max_row, 1), sheet.cell(sheet.max_row, 2)
        label.font = bold
        cell.alignment = Alignment(horizontal="left")
        if number_format is not None and not isinstance(value, str):
            cell.number_format = number_format
    sheet.append([])
    sheet.append([words["groups"]])
    sheet.cell(sheet.max_row, 1).font = Font(bold=True, size=12)
    keys = ("dimension", "group", "staff", "at_floor", "share", "cost", "gain", "assignments")
    sheet.append([words[f"g_{key}"] for key in keys])
    for cell in sheet[sheet.max_row]:
        cell.font, cell.alignment = bold, Alignment(wrap_text=True, vertical="top")
    formats = (None, None, _RUPIAH, _RUPIAH, _SHARE, _RUPIAH, _GAIN, _RUPIAH)
    for line in summary.groups:
        dimension = words.get(f"d_{line.dimension}", line.dimension)
        group = dimension if line.dimension == "all" else line.group
        values = (dimension, group, line.staff, line.at_floor, line.share_at_floor, line.cost_idr)
        sheet.append([*values, _cell(line.expected_gain), line.assignments])
        for cell, number_format in zip(sheet[sheet.max_row], formats, strict=True):
            if number_format is not None:
                cell.number_format = number_format
    sheet.append([])
    sheet.append([words["binding"]])
    sheet.cell(sheet.max_row, 1).font = Font(bold=True, size=12)
    for sentence in [binding.text(lang) for binding in summary.binding] or [words["no_binding"]]:
        sheet.append([sentence])
    for letter, width in zip("ABCDEFGH", (48, 26, 16, 14, 12, 16, 18, 12), strict=True):
        sheet.column_dimensions[letter].width = width


def _assignment_sheet(sheet: Worksheet, rows: pd.DataFrame, lang: Lang) -> None:
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    labels, words = COLUMN_LABELS[lang], TEXT[lang]
    sheet.append([labels[column] for column in OUTPUT_COLUMNS])
    top, wrap = Alignment(vertical="top"), Alignment(wrap_text=True, vertical="top")
    for cell in sheet[1]:
        cell.font, cell.alignment = Font(bold=True), wrap
    flag = rows[Assignments.mandatory].map({True: words["yes"], False: words["no"]})
    shown = rows.assign(**{Assignments.mandatory: flag})
    for record in shown.itertuples(index=False, name=None):
        sheet.append([_cell(value) for value in record])
    formats = {
        Assignments.nip: "@",  # text: Excel never shows 1.97E+17 nor drops leading zeros
        Assignments.cost_idr: _RUPIAH,
        Assignments.expected_gain: _GAIN,
    }
    for index, column in enumerate(OUTPUT_COLUMNS, 1):
        lengths = shown[column].astype(str).str.len()  # NaN for missing values (a gain of a mandatory row)
        longest = int(lengths.max()) if lengths.notna().any() else 0
        cap = 70 if column == _REASON else 45  # a long reason wraps instead
        sheet.column_dimensions[get_column_letter(index)].width = max(10, min(cap, max(longest, 12) + 2))
        for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
            cell.alignment = wrap if column == _REASON else top
            if column in formats:
                cell.number_format = formats[column]
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
