"""Text models: the bundled sentence-transformers model loads offline and its cache works."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from rekomendasi.errors import ConfigError
from rekomendasi.text import LexicalClassifier, TextEncoder, default_model_path


def test_bundled_model_embeds_offline_and_caches_by_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    encoder = TextEncoder(cache_dir=tmp_path)
    texts = [
        "Menyusun rencana kerja dan anggaran",
        "Memperbaiki jaringan server kantor",
        "Menyusun rencana kerja dan anggaran",
    ]
    vectors = encoder.encode(texts)
    assert vectors.shape == (3, 384) and encoder.encoded_last_call == 2
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[0], vectors[2])
    assert (tmp_path / "all-MiniLM-L6-v2").is_dir()

    again = TextEncoder(cache_dir=tmp_path)  # a new process would read the cache from disk
    same = again.encode([texts[1], "Teks baru sama sekali"])
    assert again.encoded_last_call == 1
    assert np.allclose(same[0], vectors[1], atol=1e-6)
    assert again._model is not None  # loaded only because one text was new


def test_cached_texts_need_no_model(tmp_path: Path) -> None:
    TextEncoder(cache_dir=tmp_path).encode(["Mengarsipkan surat masuk"])
    cached = TextEncoder(cache_dir=tmp_path)
    cached.encode(["Mengarsipkan surat masuk"])
    assert cached.encoded_last_call == 0 and cached._model is None


def test_model_path_must_be_a_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a sentence-transformers model directory"):
        TextEncoder(model_path=tmp_path)
    assert (default_model_path() / "config.json").exists()


def test_lexical_classifier_learns_indonesian_vocabulary() -> None:
    texts = [
        "menyusun RKA dan DPA",
        "revisi anggaran belanja",
        "pagu anggaran tahunan",
        "instalasi jaringan LAN",
        "konfigurasi server dan router",
        "pemeliharaan jaringan kantor",
    ]
    labels = ["anggaran"] * 3 + ["jaringan"] * 3
    model = LexicalClassifier().fit(texts, labels)
    probs = model.predict_proba(["penyusunan anggaran perubahan", "gangguan router di jaringan"])
    assert list(model.classes_[probs.argmax(axis=1)]) == ["anggaran", "jaringan"]
    assert np.allclose(probs.sum(axis=1), 1.0)
    with pytest.raises(NotFittedError):
        LexicalClassifier().predict_proba(["x"])
