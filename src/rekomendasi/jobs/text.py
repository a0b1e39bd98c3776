"""Text jobs: ``text tune`` (fine-tune the sentence model on the agency's labelled text), ``text
evaluate`` (measure it against the lexical and the starting model on held-out text, and on truth), and
the optional tuning step of ``train`` (:func:`tune_and_log`), which logs the tuned model to the training
run beside the ranker."""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rekomendasi.features.asof import as_of_view
from rekomendasi.jobs.inputs import Stage, TrainingInputs, as_of_date, data_dir, evidence_spec, load_data
from rekomendasi.registry import ModelRegistry
from rekomendasi.settings import Settings
from rekomendasi.text import TextEncoder, TuneConfig, TuneStats
from rekomendasi.texttune import Comparison, compare, tune_text_model, untagged_accuracy

TUNE_STAGES = 3  # calls text_tune_job makes to its progress function
TEXT_MODEL_ARTIFACT = "text_model"
"""Run artifact of a training run holding the tuned sentence model (a sentence-transformers directory)."""


@dataclass(frozen=True)
class TextTuning:
    """What a tuning job did and measured.

    Attributes:
        model: where the tuned model is: its directory, or the MLflow run artifact it was logged as.
        base_model: the name of the model tuning started from.
        stats: the training run (steps, examples, losses, seconds); None when an earlier one was measured.
        comparison: the held-out comparison (lexical, base, tuned, combined).
        untagged: accuracy on untagged rows against truth (None without truth or when not asked).
    """

    data_dir: Path
    as_of: dt.date
    model: str
    base_model: str
    stats: TuneStats | None
    comparison: Comparison
    untagged: pd.DataFrame | None = None


def base_encoder(settings: Settings) -> TextEncoder:
    """The model tuning starts from: ``REKOMENDASI_TEXT_MODEL_PATH`` (e.g. a multilingual model), else the
    bundled one; its embeddings are cached like the snapshot's."""
    return TextEncoder(settings.text_model_path, settings.resolve(settings.cache_dir) / "embeddings")


def text_tune_job(
    settings: Settings,
    data: Path | None,
    out: Path,
    as_of: dt.date | None = None,
    config: TuneConfig | None = None,
    truth_rows: int | None = None,
    progress: Stage | None = None,
    tune: bool = True,
) -> TextTuning:
    """Tune the sentence model on the labelled text of ``data`` as of the date (never the held-out fifth),
    save it to ``out``, and compare it on the held-out fifth with the lexical model and the model it
    started from; with ``truth_rows``, also on that many untagged rows per table against ``truth/``.

    Args:
        tune: False to measure the model already in ``out`` (tuned earlier, on any data: a text held out
            here is held out everywhere, so it never learnt one).

    Raises:
        ConfigError: the evidence spec or a model path is invalid.
        DataContractError: the data breaks the contract (or has no truth/ when truth_rows is given).
        ValueError: too little labelled text to tune or to measure.
    """
    spec, _ = evidence_spec(settings)
    directory = data_dir(settings, data)
    if progress is not None:
        progress("load data")
    dataset = load_data(settings, directory)
    date = as_of_date(settings, dataset, as_of)
    tables = as_of_view(dataset, date)
    base = base_encoder(settings)
    if progress is not None:
        progress(f"tune {base.model_name}" if tune else "load the tuned model")
    note = {"data_dir": str(directory), "as_of": date.isoformat()}
    stats = tune_text_model(tables, base, out, config, note) if tune else None
    tuned = TextEncoder(out)  # checks that it is a model directory
    if progress is not None:
        progress("compare on held-out text")
    comparison = compare(tables, spec, base, tuned)
    untagged = untagged_accuracy(dataset, comparison, truth_rows) if truth_rows is not None else None
    return TextTuning(directory, date, str(out), base.model_name, stats, comparison, untagged)


def tune_and_log(
    settings: Settings, registry: ModelRegistry, inputs: TrainingInputs, run_id: str
) -> TextTuning | None:
    """The tuning step of ``train`` when ``REKOMENDASI_TEXT_TUNE`` is on (None when off): tune the
    sentence model on the training data as of the training date, and log it to the training run
    ``run_id`` (artifact :data:`TEXT_MODEL_ARTIFACT`, its held-out accuracies as ``text.*`` metrics).

    Logged whether or not it earns weight: the metrics say which (``text.lexical_weight`` 1 = unused).
    """
    if not settings.text_tune:
        return None
    spec, _ = evidence_spec(settings)
    tables = as_of_view(inputs.dataset, inputs.as_of)
    base = base_encoder(settings)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "text_model"
        note = {"data_dir": str(inputs.data_dir), "as_of": inputs.as_of.isoformat()}
        stats = tune_text_model(tables, base, out, note=note)
        comparison = compare(tables, spec, base, TextEncoder(out))
        metrics = {
            **comparison.metrics(),
            "text.tune_seconds": stats.seconds,
            "text.tune_steps": float(stats.steps),
        }
        tags = {"text_model_tuned_from": base.model_name, "text_model_artifact": TEXT_MODEL_ARTIFACT}
        registry.log_to_run(run_id, metrics, tags, {TEXT_MODEL_ARTIFACT: out})
    where = f"runs:/{run_id}/{TEXT_MODEL_ARTIFACT}"
    return TextTuning(inputs.data_dir, inputs.as_of, where, base.model_name, stats, comparison)
