"""Quality of a snapshot against a simulated world's ``truth/`` (evaluation only; never a feature input).

Compares the estimator with the naive one a planner would use ("latest assessment, else the position
requirement"), and measures text-to-competency accuracy per text model.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from rekomendasi.contract import Dataset
from rekomendasi.contract.schemas import Assessments, Behaviour, DailyReports, Feedback, Indicators
from rekomendasi.errors import DataContractError
from rekomendasi.features.asof import as_of_view
from rekomendasi.features.schemas import CompetencyGaps
from rekomendasi.features.snapshot import Snapshot
from rekomendasi.features.textevidence import row_masks, standard_masks
from rekomendasi.features.textmap import TextModel, assign

_KEY = [CompetencyGaps.nip, CompetencyGaps.competency_id]
# Free-text columns the simulator labels in truth/text_competency: (table, nip, text, competency tag or None).
_TEXT_COLUMNS = (
    ("indicators", Indicators.nip, Indicators.description, Indicators.competency_id),
    ("feedback", Feedback.nip, Feedback.text, Feedback.competency_id),
    ("behaviour", Behaviour.nip, Behaviour.feedback, None),
    ("daily_reports", DailyReports.nip, DailyReports.activity, None),
)


def read_truth(data_dir: Path, name: str) -> pd.DataFrame:
    """A table of ``DATA/truth/`` (CSV or Parquet)."""
    for ext in (".parquet", ".csv"):
        path = data_dir / "truth" / f"{name}{ext}"
        if path.exists():
            return pd.read_parquet(path) if ext == ".parquet" else pd.read_csv(path, dtype={"nip": str})
    raise DataContractError(
        f"{data_dir}/truth/{name}: not found; only simulated data directories have truth/."
    )


def naive_levels(dataset: Dataset, gaps: pd.DataFrame, as_of: dt.date) -> np.ndarray:
    """Latest assessment of each (employee, competency) on or before ``as_of``, else the requirement."""
    assessments = as_of_view(dataset, as_of)["assessments"]
    latest = (
        assessments.sort_values(Assessments.assessed_on, kind="stable")
        .groupby([Assessments.nip, Assessments.competency_id])[Assessments.level]
        .last()
    )
    merged = gaps[_KEY].merge(latest.rename("latest").reset_index(), on=_KEY, how="left")
    return merged["latest"].fillna(gaps[CompetencyGaps.required_level]).to_numpy(dtype=float)


def estimation_quality(snapshot: Snapshot, dataset: Dataset) -> pd.DataFrame:
    """MAE of levels and Spearman of gaps vs the true ones, for the estimator and the naive baseline.

    Rows: all pairs, pairs of assessed employees, pairs of never-assessed employees.
    """
    truth = read_truth(dataset.data_dir, "true_levels")
    gaps = snapshot.competency_gaps.merge(truth[["nip", "competency_id", "true_level"]], on=_KEY, how="inner")
    naive = naive_levels(dataset, gaps, snapshot.as_of)
    assessed = (
        gaps[CompetencyGaps.nip]
        .isin(as_of_view(dataset, snapshot.as_of)["assessments"][Assessments.nip])
        .to_numpy()
    )
    rows = []
    for subset, mask in (
        ("all", np.ones(len(gaps), bool)),
        ("assessed employees", assessed),
        ("never assessed", ~assessed),
    ):
        true_gap = (gaps[CompetencyGaps.required_level] - gaps["true_level"]).to_numpy()[mask]
        for name, level in (("estimator", gaps[CompetencyGaps.estimated_level].to_numpy()), ("naive", naive)):
            est_gap = gaps[CompetencyGaps.required_level].to_numpy()[mask] - level[mask]
            rows.append(
                {
                    "subset": subset,
                    "estimator": name,
                    "pairs": int(mask.sum()),
                    "mae_level": float(np.mean(np.abs(level[mask] - gaps["true_level"].to_numpy()[mask]))),
                    # A constant estimate (the naive one for never-assessed staff) has no rank correlation.
                    "spearman_gap": float(spearmanr(est_gap, true_gap).statistic)
                    if np.ptp(est_gap) > 0
                    else float("nan"),
                }
            )
        err = np.abs(
            gaps[CompetencyGaps.estimated_level].to_numpy()[mask] - gaps["true_level"].to_numpy()[mask]
        )
        rows[-2]["coverage_95"] = float(
            np.mean(err <= 1.96 * gaps[CompetencyGaps.uncertainty].to_numpy()[mask])
        )
    return pd.DataFrame(rows)


def text_accuracy(model: TextModel, dataset: Dataset) -> pd.DataFrame:
    """Top-1 accuracy of each text model on the generated texts whose competency the data leaves untagged.

    Reported unrestricted (any of the competencies) and restricted to the employee's position standard
    (how the pipeline assigns text).
    """
    labels = read_truth(dataset.data_dir, "text_competency")
    tables = dataset.tables
    masks = standard_masks(tables, model)
    rows = []
    for table, nip, column, tag in _TEXT_COLUMNS:
        truth = labels[labels["table"] == table]
        if truth.empty:
            continue
        frame = tables[table].iloc[truth["row"].to_numpy() - 1]
        if tag is not None:
            keep = frame[tag].isna().to_numpy()
            frame, truth = frame[keep], truth[keep]
        if frame.empty:
            continue
        allowed = row_masks(frame[nip], tables, masks, len(model.classes))
        for method in model.methods:
            for restricted in (False, True):
                comp, _ = assign(model, frame[column], allowed if restricted else None, method=method)
                rows.append(
                    {
                        "table": table,
                        "method": method,
                        "restricted_to_standard": restricted,
                        "texts": len(frame),
                        "top1_accuracy": float(np.mean(comp == truth["competency_id"].to_numpy())),
                    }
                )
    return pd.DataFrame(rows)
