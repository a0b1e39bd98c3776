"""The sentence model tuned on the agency's own labelled text, and whether it earns weight.

The bundled sentence model is English; on Indonesian text it is far weaker than the character n-gram
model, and :func:`~rekomendasi.features.textmap.fit_text_model` gives it no weight. Here it is fine-tuned
the way SetFit does (contrastive pairs of labelled texts: same competency close, others apart; see
:func:`rekomendasi.text.fine_tune`) on the labelled texts that :func:`held_out_mask` does not hold out,
and measured where ``fit_text_model`` measures every sentence model: on the held-out fifth, which the
tuned model has never seen. The result is an ordinary sentence-transformers directory:
``REKOMENDASI_TEXT_MODEL_PATH`` pointed at it makes it the snapshot's encoder, and ``fit_text_model``'s
held-out weighting still decides whether it is used at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rekomendasi.contract import Dataset
from rekomendasi.features.quality import read_truth
from rekomendasi.features.spec import EvidenceSpec
from rekomendasi.features.textevidence import TAGGED, TEXT_SOURCES, row_masks, standard_masks
from rekomendasi.features.textmap import LABEL, TEXT, TextModel, assign, fit_text_model, held_out_mask
from rekomendasi.features.textmap import labelled_texts as _labelled_texts
from rekomendasi.text import TextEncoder, TuneConfig, TuneStats, fine_tune

TUNING_FILE = "rekomendasi_tuning.json"
"""What a tuned model directory records about its tuning (beside the sentence-transformers files)."""

METHODS = ("lexical", "base embedding", "base combined", "tuned embedding", "combined")
"""Rows of :attr:`Comparison.held_out`: the character n-gram model, the starting sentence model and the
combination ``fit_text_model`` chooses with it, the tuned model and the combination it chooses with
that (what a snapshot uses when ``REKOMENDASI_TEXT_MODEL_PATH`` names the tuned model)."""


def tuning_texts(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The labelled texts a tuned model may learn from: all but the held-out fifth (``text``,
    ``competency_id``)."""
    labelled = _labelled_texts(tables)
    return labelled[~held_out_mask(labelled[TEXT])].reset_index(drop=True)


def tune_text_model(
    tables: Mapping[str, pd.DataFrame],
    base: TextEncoder,
    out: Path,
    config: TuneConfig | None = None,
    note: Mapping[str, object] | None = None,
) -> TuneStats:
    """Fine-tune ``base``'s model on the labelled texts of ``tables`` outside the held-out fifth and save
    it to ``out`` (a sentence-transformers directory, with :data:`TUNING_FILE` beside its files).

    Args:
        tables: the data's tables (its as-of view, so no text after the date is learnt).
        base: the encoder whose model tuning starts from (the bundled one, or a multilingual one).
        note: more facts to record in :data:`TUNING_FILE` (e.g. the data directory and as-of date).

    Raises:
        ValueError: too few labelled texts to form a contrastive example.
    """
    config = config or TuneConfig()
    texts = tuning_texts(tables)
    stats = fine_tune(base.model_path, texts[TEXT].tolist(), texts[LABEL].tolist(), out, config)
    record = {
        "tuned_from": base.model_name,
        "tuned_from_path": str(base.model_path),
        "labelled_texts": len(texts),
        "config": asdict(config),
        "stats": asdict(stats),
        **(note or {}),
    }
    (out / TUNING_FILE).write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    return stats


@dataclass(frozen=True)
class Comparison:
    """The text models measured on the held-out fifth of the labelled text.

    Attributes:
        held_out: one row per method of :data:`METHODS`: ``method``, ``top1_accuracy`` in [0, 1],
            ``lexical_weight`` in [0, 1] (a combination's; 1 = its sentence model is not used).
        base, tuned: the text models ``fit_text_model`` fits with each sentence model (their
            ``validation`` holds the same figures).
    """

    held_out: pd.DataFrame
    base: TextModel
    tuned: TextModel

    @property
    def lexical_weight(self) -> float:
        """float: the lexical weight ``fit_text_model`` chose beside the tuned model, in [0.5, 1]."""
        return self.tuned.lexical_weight

    def metrics(self) -> dict[str, float]:
        """The comparison as flat metrics (``text.holdout_top1_<method>``, ``text.lexical_weight``)."""
        out = {
            f"text.holdout_top1_{m.replace(' ', '_')}": float(a)
            for m, a in zip(self.held_out["method"], self.held_out["top1_accuracy"], strict=True)
        }
        out["text.lexical_weight"] = self.lexical_weight
        out["text.labelled_texts"] = float(self.tuned.validation.get("labelled_texts", 0.0))
        return out


def compare(
    tables: Mapping[str, pd.DataFrame], spec: EvidenceSpec, base: TextEncoder, tuned: TextEncoder
) -> Comparison:
    """Fit the text model with each sentence model, as a snapshot would, and set their held-out
    accuracies side by side.

    Raises:
        ValueError: too little labelled text to hold a fifth out (fewer than 20 held-out texts).
    """
    base_model = fit_text_model(tables, spec, base)
    tuned_model = fit_text_model(tables, spec, tuned)
    measured, tuned_v = base_model.validation, tuned_model.validation
    if "holdout_top1_embedding" not in measured or "holdout_top1_embedding" not in tuned_v:
        raise ValueError(
            f"{int(measured['labelled_texts'])} labelled texts hold out too few to measure on (20 at least); "
            "tag more indicators or feedback with their competency."
        )
    rows = [
        ("lexical", tuned_v["holdout_top1_lexical"], 1.0),
        ("base embedding", measured["holdout_top1_embedding"], 0.0),
        ("base combined", measured["holdout_top1_combined"], measured["lexical_weight"]),
        ("tuned embedding", tuned_v["holdout_top1_embedding"], 0.0),
        ("combined", tuned_v["holdout_top1_combined"], tuned_v["lexical_weight"]),
    ]
    table = pd.DataFrame(rows, columns=["method", "top1_accuracy", "lexical_weight"])
    return Comparison(table, base_model, tuned_model)


def untagged_accuracy(
    dataset: Dataset, comparison: Comparison, rows: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """Top-1 accuracy against ``truth/text_competency`` on free-text rows the data leaves untagged (never
    labelled, so never learnt from), each assigned among its author's standard competencies as the
    pipeline does.

    Args:
        dataset: a simulated data directory (with ``truth/``).
        rows: rows drawn per table (seeded; 0 for every row): each new text costs an embedding.

    Returns:
        One row per (table, method of :data:`METHODS`): ``table``, ``method``, ``rows``,
        ``top1_accuracy`` in [0, 1].

    Raises:
        DataContractError: the data has no ``truth/``.
    """
    truth = read_truth(dataset.data_dir, "text_competency")
    tables = dataset.tables
    models = {
        "lexical": (comparison.tuned, "lexical"),
        "base embedding": (comparison.base, "embedding"),
        "base combined": (comparison.base, "combined"),
        "tuned embedding": (comparison.tuned, "embedding"),
        "combined": (comparison.tuned, "combined"),
    }
    masks = standard_masks(tables, comparison.tuned)
    out = []
    for table, column in TEXT_SOURCES.items():
        known = truth[(truth["table"] == table) & (truth["column"] == column)]
        frame = tables[table].iloc[known["row"].to_numpy() - 1]
        keep = frame[column].notna().to_numpy()
        if table in TAGGED:
            keep = keep & frame["competency_id"].isna().to_numpy()
        frame, known = frame[keep], known[keep]
        if rows and len(frame) > rows:
            pick = np.sort(np.random.default_rng(seed).choice(len(frame), rows, replace=False))
            frame, known = frame.iloc[pick], known.iloc[pick]
        if frame.empty:
            continue
        allowed = row_masks(frame["nip"], tables, masks, len(comparison.tuned.classes))
        for method in METHODS:
            model, how = models[method]
            comp, _ = assign(model, frame[column], allowed, method=how)
            out.append(
                {
                    "table": table,
                    "method": method,
                    "rows": len(frame),
                    "top1_accuracy": float(np.mean(comp == known["competency_id"].to_numpy())),
                }
            )
    return pd.DataFrame(out, columns=["table", "method", "rows", "top1_accuracy"])
