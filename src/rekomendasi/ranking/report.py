"""The evaluation report: markdown and a self-contained HTML page with plots (metrics by model, by group,
feature importance), written to a folder that the training job logs to MLflow as it is.

Plots are drawn with matplotlib's Agg backend (no display needed) and embedded in the HTML as PNG data,
so the one file can be mailed or opened from the MLflow UI.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

_TITLES = {
    "models": "Models and baselines on the same held-out employees",
    "candidates": "Candidate generation",
    "groups": "Fairness: metrics and exposure by group",
    "importance": "Feature importance (total gain)",
    "calibration": "Expected gain (levels) against realised gain on held-out enrolments (bin 0: all)",
}


def _figure_png(draw: Callable[[Any], Any]) -> bytes:
    """PNG bytes of the figure ``draw(pyplot)`` returns."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig = draw(plt)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _models_plot(models: pd.DataFrame) -> bytes | None:
    metric = "ndcg@10" if "ndcg@10" in models.columns else "coverage@10"
    table = models.sort_values(metric)

    def draw(plt):
        fig, ax = plt.subplots(figsize=(7, 0.45 * len(table) + 1))
        values = table[metric].to_numpy()
        errors = None
        if f"{metric}_low" in table.columns:
            errors = [values - table[f"{metric}_low"].to_numpy(), table[f"{metric}_high"].to_numpy() - values]
        ax.barh(table["model"], values, xerr=errors, color="#3b6ea8", capsize=3)
        ax.set_xlabel(metric + (" with 95% bootstrap CI" if errors is not None else ""))
        ax.set_xlim(0, 1.05)
        for y, v in enumerate(values):
            ax.text(min(v + 0.01, 0.95), y, f"{v:.3f}", va="center", fontsize=8)
        return fig

    return _figure_png(draw)


def _groups_plot(groups: pd.DataFrame, group: str) -> bytes | None:
    metric = "ndcg@10" if "ndcg@10" in groups.columns and groups["ndcg@10"].notna().any() else "exposure"
    table = groups[groups["group"] == group].pivot_table(index="value", columns="model", values=metric)
    if table.empty:
        return None
    table = table.sort_values(table.columns[0])

    def draw(plt):
        fig, ax = plt.subplots(figsize=(7, 0.28 * len(table) * len(table.columns) + 1.2))
        table.plot.barh(ax=ax, width=0.8)
        ax.set_xlabel(metric)
        ax.set_ylabel(group)
        ax.legend(fontsize=8, loc="lower right")
        return fig

    return _figure_png(draw)


def _importance_plot(importance: pd.DataFrame) -> bytes | None:
    table = importance.sort_values("gain")

    def draw(plt):
        fig, ax = plt.subplots(figsize=(7, 0.25 * len(table) + 1))
        ax.barh(table["feature"], table["gain"], color="#6a9f58")
        ax.set_xlabel("total split gain")
        return fig

    return _figure_png(draw)


def _plots(tables: Mapping[str, pd.DataFrame]) -> dict[str, bytes]:
    """File name -> PNG for every plot the tables allow."""
    plots: dict[str, bytes | None] = {}
    if "models" in tables:
        plots["models.png"] = _models_plot(tables["models"])
    if "groups" in tables:
        for group in tables["groups"]["group"].unique():
            plots[f"groups-{group}.png"] = _groups_plot(tables["groups"], str(group))
    if "importance" in tables:
        plots["importance.png"] = _importance_plot(tables["importance"])
    return {name: png for name, png in plots.items() if png is not None}


def _section_plots(name: str, plots: Mapping[str, bytes]) -> list[str]:
    if name == "groups":
        return [p for p in plots if p.startswith("groups-")]
    return [p for p in plots if p == f"{name}.png"]


def write_report(tables: Mapping[str, pd.DataFrame], folder: Path, title: str, intro: str = "") -> Path:
    """Write ``evaluation.md``, ``evaluation.html``, one PNG per plot and one CSV per table to ``folder``.

    Returns the HTML file's path.
    """
    folder.mkdir(parents=True, exist_ok=True)
    plots = _plots(tables)
    for name, png in plots.items():
        (folder / name).write_bytes(png)
    markdown = [f"# {title}", intro] if intro else [f"# {title}"]
    page = [f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(intro)}</p>" if intro else ""]
    for name, table in tables.items():
        table.to_csv(folder / f"{name}.csv", index=False)
        heading = _TITLES.get(name, name)
        markdown.append(f"## {heading}")
        page.append(f"<h2>{html.escape(heading)}</h2>")
        for plot in _section_plots(name, plots):
            markdown.append(f"![{plot}]({plot})")
            data = base64.b64encode(plots[plot]).decode("ascii")
            page.append(f'<img alt="{plot}" src="data:image/png;base64,{data}">')
        markdown.append(table.round(4).to_markdown(index=False))
        page.append(table.round(4).to_html(index=False, border=0, classes="table", na_rep=""))
    (folder / "evaluation.md").write_text("\n\n".join(markdown) + "\n", encoding="utf-8")
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;font-size:13px;margin:1em 0}"
        "td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}"
        "img{display:block;margin:1em 0;max-width:100%}"
    )
    path = folder / "evaluation.html"
    path.write_text(
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(page)}</body></html>\n",
        encoding="utf-8",
    )
    return path
