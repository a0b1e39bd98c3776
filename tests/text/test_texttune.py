"""The sentence model tuned on labelled text: a tiny model built here (no download) loads from a path and
from REKOMENDASI_TEXT_MODEL_PATH, tuning it separates what it could not, and ``train``'s tuning step
logs it to the training run."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rekomendasi.contract import Dataset
from rekomendasi.features import EvidenceSpec
from rekomendasi.features.textmap import TEXT, held_out_mask, labelled_texts
from rekomendasi.jobs.inputs import ConfigFile, TrainingInputs
from rekomendasi.jobs.text import TEXT_MODEL_ARTIFACT, base_encoder, tune_and_log
from rekomendasi.settings import get_settings
from rekomendasi.text import TUNE_LOSSES, TextEncoder, TuneConfig, centroid_scores, fine_tune
from rekomendasi.texttune import METHODS, TUNING_FILE, tuning_texts

CLASS_WORDS = {
    "anggaran": ["pagu", "belanja", "rka"],
    "jaringan": ["router", "server", "kabel"],
    "arsip": ["surat", "berkas", "map"],
    "hukum": ["perda", "pasal", "sanksi"],
}
FILLER = [f"kata{i}" for i in range(24)]  # words of every text, whatever its label


def _tiny_model(path: Path) -> Path:
    """A 2-layer BERT (hidden 32) with a WordPiece vocabulary of the toy words, random weights, saved as a
    sentence-transformers directory (mean pooling)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    words = [w for ws in CLASS_WORDS.values() for w in ws] + FILLER
    raw = path.parent / f"{path.name}-bert"
    raw.mkdir(parents=True)
    (raw / "vocab.txt").write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n", encoding="utf-8"
    )
    BertTokenizerFast.from_pretrained(str(raw)).save_pretrained(str(raw))  # from vocab.txt
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(words) + 5,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(str(raw))
    SentenceTransformer(str(raw), device="cpu").save(str(path))  # a plain model gets mean pooling
    return path


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_model(tmp_path_factory.mktemp("tiny-model") / "tiny")


def _toy(n: int, seed: int) -> tuple[list[str], list[str]]:
    """Texts of one label word among five filler words: the fillers dominate an untrained mean."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        label = sorted(CLASS_WORDS)[i % len(CLASS_WORDS)]
        words = [*rng.choice(FILLER, 5, replace=False), rng.choice(CLASS_WORDS[label])]
        texts.append(" ".join(rng.permutation(words)))
        labels.append(label)
    return texts, labels


def _accuracy(
    encoder: TextEncoder, train: tuple[list[str], list[str]], test: tuple[list[str], list[str]]
) -> float:
    classes = np.array(sorted(CLASS_WORDS))
    scores = centroid_scores(encoder.encode(train[0]), train[1], encoder.encode(test[0]), classes)
    return float(np.mean(classes[scores.argmax(axis=1)] == np.array(test[1])))


def test_tiny_model_loads_from_the_setting_and_encodes(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REKOMENDASI_TEXT_MODEL_PATH", str(tiny_model))
    monkeypatch.setenv("REKOMENDASI_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    try:
        encoder = base_encoder(get_settings())
    finally:
        get_settings.cache_clear()
    assert encoder.model_path == tiny_model and encoder.model_name.startswith("tiny-")
    vectors = encoder.encode(["pagu belanja kata1", "router kata2 kata3"])
    assert vectors.shape == (2, 32)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert (tmp_path / "cache" / "embeddings" / encoder.model_name).is_dir()


def test_tuning_changes_the_model_and_separates_what_it_could_not(tiny_model: Path, tmp_path: Path) -> None:
    train, test = _toy(120, seed=1), _toy(60, seed=2)
    before = _accuracy(TextEncoder(tiny_model), train, test)
    out = tmp_path / "tuned"
    stats = fine_tune(tiny_model, *train, out, TuneConfig(epochs=8, batch_size=16, learning_rate=1e-3))
    tuned = TextEncoder(out)
    after = _accuracy(tuned, train, test)
    assert stats.steps > 0 and stats.last_loss < stats.first_loss
    assert not np.allclose(tuned.encode(test[0][:3]), TextEncoder(tiny_model).encode(test[0][:3]), atol=1e-3)
    assert before < 0.7 and after >= 0.85 and after >= before + 0.2, (before, after)
    assert tuned.model_name != TextEncoder(tiny_model).model_name  # never the base model's cache


@pytest.mark.parametrize("loss", [loss for loss in TUNE_LOSSES if loss != "mnrl"])
def test_every_loss_trains(loss: str, tiny_model: Path, tmp_path: Path) -> None:
    train = _toy(40, seed=3)
    stats = fine_tune(tiny_model, *train, tmp_path / loss, TuneConfig(loss=loss, batch_size=8))
    assert stats.steps >= 2 and np.isfinite(stats.last_loss)
    assert TextEncoder(tmp_path / loss).encode(["pagu kata1"]).shape == (1, 32)


def test_tuning_needs_two_labels_and_a_known_loss(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no contrastive example"):
        fine_tune(tiny_model, ["pagu", "rka"], ["anggaran", "anggaran"], tmp_path / "x")
    with pytest.raises(ValueError, match="unknown tuning loss"):
        fine_tune(tiny_model, ["pagu", "rka"], ["a", "b"], tmp_path / "x", TuneConfig(loss="nope"))


def test_held_out_texts_are_chosen_by_text_and_never_tuned_on(small_dataset: Dataset) -> None:
    labelled = labelled_texts(small_dataset.tables)
    mask = held_out_mask(labelled[TEXT])
    assert 0.12 < mask.mean() < 0.28
    # The same text is held out whatever it comes with, in whatever order.
    shuffled = labelled[TEXT].sample(frac=1.0, random_state=0)
    assert (held_out_mask(shuffled) == mask[shuffled.index.to_numpy()]).all()
    assert held_out_mask(labelled[TEXT].head(5)).tolist() == mask[:5].tolist()
    learnt = set(tuning_texts(small_dataset.tables)[TEXT])
    assert learnt and not learnt & set(labelled.loc[mask, TEXT])


class _Recorder:
    """The part of a registry the tuning step uses: records what it logs to a run."""

    def __init__(self) -> None:
        self.logged: list[tuple[str, dict[str, float], dict[str, str], dict[str, list[str]]]] = []

    def log_to_run(
        self, run_id: str, metrics: dict[str, float], tags: dict[str, str], artifacts: dict[str, Path]
    ) -> None:
        files = {name: sorted(p.name for p in path.iterdir()) for name, path in artifacts.items()}
        self.logged.append((run_id, metrics, tags, files))
        record = json.loads((artifacts[TEXT_MODEL_ARTIFACT] / TUNING_FILE).read_text(encoding="utf-8"))
        assert record["tuned_from"].startswith("tiny-") and record["as_of"] == "2025-06-30"


def test_train_step_tunes_and_logs_only_when_asked(
    tiny_model: Path,
    small_dataset: Dataset,
    spec: EvidenceSpec,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    file = ConfigFile(tmp_path, "0" * 64)
    inputs = TrainingInputs(
        small_dataset.data_dir,
        small_dataset,
        spec,
        file,
        None,
        file,
        dt.date(2025, 6, 30),  # type: ignore[arg-type]
    )
    registry = _Recorder()
    monkeypatch.setenv("REKOMENDASI_TEXT_MODEL_PATH", str(tiny_model))
    monkeypatch.setenv("REKOMENDASI_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    try:
        assert tune_and_log(get_settings(), registry, inputs, "run-1") is None  # type: ignore[arg-type]
        assert registry.logged == []
        monkeypatch.setenv("REKOMENDASI_TEXT_TUNE", "true")
        get_settings.cache_clear()
        result = tune_and_log(get_settings(), registry, inputs, "run-1")  # type: ignore[arg-type]
    finally:
        get_settings.cache_clear()
    assert result is not None and result.model == f"runs:/run-1/{TEXT_MODEL_ARTIFACT}"
    [(run_id, metrics, tags, files)] = registry.logged
    assert run_id == "run-1" and "modules.json" in files[TEXT_MODEL_ARTIFACT]
    for method in METHODS:
        assert 0.0 <= metrics[f"text.holdout_top1_{method.replace(' ', '_')}"] <= 1.0
    assert 0.5 <= metrics["text.lexical_weight"] <= 1.0
    assert tags["text_model_tuned_from"].startswith("tiny-")
    table = result.comparison.held_out
    assert isinstance(table, pd.DataFrame) and list(table["method"]) == list(METHODS)
