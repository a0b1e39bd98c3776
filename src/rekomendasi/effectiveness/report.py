"""The course-effectiveness report: a self-contained HTML page with plots, the tables as CSV and the plots
as PNG, in one folder that the effectiveness job logs to MLflow as it is.

Only the aggregate tables go in (entries, providers, modalities, checks); the measured enrolments name
people and never do. Plots are drawn as in the ranker's evaluation report
(:mod:`rekomendasi.ranking.report`): matplotlib's Agg backend, PNG data embedded in the page.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rekomendasi.effectiveness.estimate import Effectiveness
from rekomendasi.ranking.report import _figure_png

PAGE = "effectiveness.html"
TABLES = ("entries", "providers", "modalities", "checks")
"""The tables written as ``<name>.csv``."""
EFFECT_AXIS = "gain in measured competency level beyond comparable staff not (yet) trained"
INDISTINCT_WEIGHT = 0.05
"""Below this weight of its own participants, the data cannot tell an entry apart from courses of its kind
(as the API and the page say)."""
MAX_ROWS = 80
"""Most entries one forest plot shows: above it, the highest and lowest halves (the CSV has them all)."""

_ESTIMATE, _RAW, _NAIVE = "#1f5f99", "#6aa84f", "#c9822b"
_ESTIMATE_LABEL = "estimate (mean gain of the participants)"
_POOLED_LABEL = "effect (pooled with courses of its kind)"
_RAW_LABEL = "own participants' mean (before pooling)"
_NAIVE_LABEL = "naive before/after change"

_EXPLAINED = (
    (
        "What the effect is",
        "For every completed enrolment we compare the participant's change in estimated competency level "
        "on the competencies the course targets (from the end of the year before the enrolment to the end "
        "of the measured window) with the change of comparable people: the same competency and kind of "
        "position, nearest on the level estimated before, the level the position requires, the estimate's "
        "uncertainty and the amount of evidence behind it. Where the data has later years, the comparable "
        "people are those who enrolled on the same competency later (chosen by the same historical policy, "
        "not yet trained); in the last year, which has no later enrolments, they are matched other staff. "
        "The difference of the two changes (a difference in differences) is the participant's gain beyond "
        "comparable people, summed over the targeted competencies. Providers and modalities take the mean "
        "gain of all their entries' participants, with a percentile bootstrap interval over them; an "
        "entry's effect is pooled (next section).",
    ),
    (
        "Pooling: an entry's effect",
        "An entry's own participants' mean gain (raw_effect, with its interval raw_low to raw_high) is "
        "noisy: a few dozen participants leave an interval as wide as the differences between courses. "
        "The published effect is therefore an empirical-Bayes estimate: the entry's own mean pulled "
        "towards kind_effect, the mean that courses of its kind reached (a weighted regression of the "
        "entries' own means on modality, log length in JP and log number of targeted competencies). "
        "own_weight, between 0 and 1, is the weight of the entry's own mean: effect = kind_effect + "
        "own_weight x (raw_effect - kind_effect). It is large when the entry has many participants and "
        "the courses' true effects differ a lot; it is near 0 when the entries' own means differ no more "
        "than their noise, and then the data cannot tell the entry apart from courses of its kind (its "
        "effect is what they reached). The interval (ci_low to ci_high) resamples every entry's "
        "participants and pools again, so the uncertainty of kind_effect is in it.",
    ),
    (
        "Measured levels, not true levels",
        "Levels are estimated from the evidence alone (assessments, indicators, behaviour, SKP, "
        "feedback), with the evidence model's credit for finishing a course switched off, so a course "
        "cannot raise an estimate by being finished. A real gain shows only as new evidence arrives, so "
        "the effects are in measured levels and smaller than the true gains. Read them to compare "
        "entries, providers and modalities with each other, not as the size of the true gain.",
    ),
    (
        "The marks beside each estimate",
        "The orange marks are the naive before/after change of the same participants. It also carries the "
        "drift every level has over time and the return towards the mean of people chosen for their "
        "(noisily) perceived gaps; the difference between the two is what the comparison removes. In the "
        "entries' plot, the green marks are the entry's own participants' mean before pooling (raw_effect) "
        "and the blue ones the published, pooled effect.",
    ),
    (
        "The placebo check",
        "The placebo takes the people who complete a course on a competency the next year and measures "
        "them over a year before they took it, exactly as the participants are measured (against the same "
        "comparison group). They have gained nothing from that course yet, so a sound estimate is near "
        "zero there (its interval should hold 0); an estimate clearly away from zero means the comparison "
        "is biased by about that much. The naive change of the same people need not be zero.",
    ),
    (
        "Entries without a number",
        "An entry, provider or modality with fewer measured participants than the minimum gets no number, "
        "only a reason (how many were measured, how many are needed): a handful of participants "
        "gives an interval too wide to compare with anything.",
    ),
)


@dataclass(frozen=True)
class _Plot:
    name: str
    title: str
    png: bytes


def write_report(effectiveness: Effectiveness, folder: Path, title: str, notes: tuple[str, ...] = ()) -> Path:
    """Write ``effectiveness.html``, the plots as PNG and ``entries.csv``, ``providers.csv``,
    ``modalities.csv``, ``checks.csv`` to ``folder`` (created when missing).

    Args:
        notes: sentences shown first on the page (e.g. that the history is too short to measure).

    Returns:
        Path: the HTML page.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tables = {name: getattr(effectiveness, name) for name in TABLES}
    for name, table in tables.items():
        table.to_csv(folder / f"{name}.csv", index=False)
    plots = _plots(effectiveness)
    for name in TABLES:  # a plot an earlier run drew into this folder and this one has no data for
        (folder / f"{name}.png").unlink(missing_ok=True)
    for plot in plots:
        (folder / plot.name).write_bytes(plot.png)
    page = [f"<h1>{html.escape(title)}</h1>"]
    page += [f"<p class='note'>{html.escape(note)}</p>" for note in notes]
    page.append(f"<p>{html.escape(_summary(effectiveness))}</p>")
    for heading, text in _EXPLAINED:
        page.append(f"<h3>{html.escape(heading)}</h3><p>{html.escape(text)}</p>")
    by_section = {plot.name.removesuffix(".png"): plot for plot in plots}
    for name, heading in (
        ("checks", "Checks: all participants and the placebo"),
        ("entries", "Catalogue entries"),
        ("providers", "Providers"),
        ("modalities", "Modalities"),
    ):
        page.append(f"<h2>{html.escape(heading)}</h2>")
        drawn = by_section.get(name)
        if drawn is not None:
            data = base64.b64encode(drawn.png).decode("ascii")
            page.append(f"<p>{html.escape(drawn.title)}</p>")
            page.append(f'<img alt="{drawn.name}" src="data:image/png;base64,{data}">')
        else:
            page.append("<p>Nothing here has enough measured participants for a number.</p>")
        page.append(_html_table(_sorted(tables[name])))
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222;line-height:1.4}"
        "table{border-collapse:collapse;font-size:13px;margin:1em 0}"
        "td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}"
        "img{display:block;margin:1em 0;max-width:100%}.note{font-weight:bold;color:#8a3b00}"
    )
    path = folder / PAGE
    path.write_text(
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(page)}</body></html>\n",
        encoding="utf-8",
    )
    return path


def _summary(effectiveness: Effectiveness) -> str:
    config = effectiveness.config
    entries = effectiveness.entries
    years = effectiveness.years
    span = f"{years[0]}-{years[-1]}" if years else "none (the history is too short)"
    return (
        f"As of {effectiveness.as_of}; enrolment years measured: {span}. "
        f"{int(entries['effect'].notna().sum()):,} of {len(entries):,} catalogue entries have an effect "
        f"(at least {config.min_participants} measured participants each); "
        f"{len(effectiveness.enrolments):,} completed enrolments measured. Intervals: "
        f"{config.confidence:.0%} percentile bootstrap ({config.resamples:,} resamples, seed {config.seed}); "
        f"window: from the end of the year before the enrolment to {config.horizon_years} year(s) after it "
        f"(as far as the data reaches).{_pooling_summary(entries)}"
    )


def _pooling_summary(entries: pd.DataFrame) -> str:
    """How much the entries' effects lean on their own participants (a sentence with a leading space;
    empty for estimates without the pooling's columns or no effect)."""
    if "own_weight" not in entries:
        return ""
    weights = pd.to_numeric(entries["own_weight"], errors="coerce").dropna()
    if weights.empty:
        return ""
    indistinct = int((weights < INDISTINCT_WEIGHT).sum())
    return (
        f" Entries' effects are pooled with courses of their kind: the median weight of their own "
        f"participants is {weights.median():.2f} (range {weights.min():.2f} to {weights.max():.2f}); "
        f"{indistinct:,} of {len(weights):,} are below {INDISTINCT_WEIGHT}, where the data cannot tell the "
        "entry apart from courses of its kind."
    )


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    """Entries with an effect first, highest first; the rest by participants."""
    if "effect" not in table or table.empty:
        return table
    return table.sort_values(["effect", "participants"], ascending=[False, False], na_position="last")


def _html_table(table: pd.DataFrame) -> str:
    rounded = table.copy()
    numeric = rounded.select_dtypes("float").columns
    rounded[numeric] = rounded[numeric].round(4)
    text = rounded.columns.difference(numeric)
    rounded[text] = rounded[text].astype(object).where(rounded[text].notna(), "")  # None shows as "None"
    return rounded.to_html(index=False, border=0, classes="table", na_rep="")


def _plots(effectiveness: Effectiveness) -> list[_Plot]:
    plots = []
    entries = effectiveness.entries
    labels = (
        entries["training_id"].astype(str) + "  " + entries["title"].fillna("").astype(str).str.slice(0, 42)
    )
    for name, table, label, heading in (
        (
            "checks",
            effectiveness.checks,
            effectiveness.checks.get("check"),
            "Checks: estimate and naive change",
        ),
        ("entries", entries, labels, "Catalogue entries with an effect"),
        ("providers", effectiveness.providers, effectiveness.providers.get("provider"), "Providers"),
        ("modalities", effectiveness.modalities, effectiveness.modalities.get("modality"), "Modalities"),
    ):
        if label is None or "effect" not in table:
            continue
        shown = table.assign(label=label.to_numpy())
        shown = shown[shown["effect"].notna()].sort_values("effect")
        if shown.empty:
            continue
        if len(shown) > MAX_ROWS:
            half = MAX_ROWS // 2
            title = f"{heading} (the {half} lowest and {half} highest of {len(shown)})"
            shown = pd.concat([shown.head(half), shown.tail(half)])
        else:
            title = heading if name == "checks" else f"{heading} ({len(shown)})"
        if _has_raw(shown):
            caption = (
                f"{title}: the effect (blue, pooled with courses of its kind, with its interval), the "
                "entry's own participants' mean before pooling (green, with its interval) and the naive "
                "before/after change of the same participants (orange). Zero is the dashed line."
            )
        else:
            caption = (
                f"{title}: the estimate (blue, with its interval) and the naive before/after change of the "
                "same participants (orange). Zero is the dashed line."
            )
        plots.append(_Plot(f"{name}.png", caption, _forest_png(shown, title)))
    return plots


def _has_raw(table: pd.DataFrame) -> bool:
    """Whether ``table`` has entries' own means beside their pooled effects (estimates made since pooling)."""
    return all(c in table for c in ("raw_effect", "raw_low", "raw_high")) and bool(
        table["raw_effect"].notna().any()
    )


def _forest_png(table: pd.DataFrame, title: str) -> bytes:
    """A forest plot: one row per line of ``table`` (label, effect, ci_low, ci_high, naive, naive_low,
    naive_high; for entries raw_effect, raw_low, raw_high), the estimate, the entry's own participants'
    mean (when there) and the naive change side by side."""
    y = np.arange(len(table), dtype=float)
    raw = _has_raw(table)
    offset = 0.25 if raw else 0.15

    def interval(low: str, mid: str, high: str) -> tuple[np.ndarray, np.ndarray]:
        centre = table[mid].to_numpy(dtype=float)
        bounds = np.vstack(
            [centre - table[low].to_numpy(dtype=float), table[high].to_numpy(dtype=float) - centre]
        )
        return centre, np.nan_to_num(np.clip(bounds, 0.0, None))

    def draw(plt: Any) -> Any:
        height = (0.3 if raw else 0.24) * len(table) + 1.8
        fig, ax = plt.subplots(figsize=(9, height), layout="constrained")
        effect, effect_err = interval("ci_low", "effect", "ci_high")
        ax.errorbar(
            effect,
            y + offset,
            xerr=effect_err,
            fmt="o",
            color=_ESTIMATE,
            ms=4,
            capsize=2,
            label=_POOLED_LABEL if raw else _ESTIMATE_LABEL,
        )
        if raw:
            own, own_err = interval("raw_low", "raw_effect", "raw_high")
            ax.errorbar(own, y, xerr=own_err, fmt="D", color=_RAW, ms=3, capsize=2, label=_RAW_LABEL)
        if "naive" in table and table["naive"].notna().any():
            naive, naive_err = interval("naive_low", "naive", "naive_high")
            ax.errorbar(
                naive, y - offset, xerr=naive_err, fmt="s", color=_NAIVE, ms=3, capsize=2, label=_NAIVE_LABEL
            )
        ax.axvline(0.0, color="#555", linestyle="--", linewidth=0.8)
        ax.set_yticks(y)
        ax.set_yticklabels(table["label"].astype(str), fontsize=7 if len(table) > 30 else 9)
        ax.set_ylim(-0.7, len(table) - 0.3)
        ax.set_xlabel(EFFECT_AXIS)
        ax.set_title(title, fontsize=10)
        fig.legend(fontsize=8, loc="outside lower center", ncol=3 if raw else 2, frameon=False)
        ax.grid(axis="x", alpha=0.3)
        return fig

    return _figure_png(draw)
