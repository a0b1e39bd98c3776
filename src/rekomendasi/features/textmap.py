"""Free text to competencies: a character n-gram model and a sentence-transformers model, combined.

Both learn from labelled text the agency already has (indicators and feedback it tagged with a
competency, catalogue descriptions of entries with known competencies, competency descriptions), so
the mapping follows each agency's vocabulary. A text about an employee is assigned to one of the
competencies of that employee's position standard.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from rekomendasi.contract.schemas import Catalog, CatalogCompetencies, Competencies, Feedback, Indicators
from rekomendasi.features.spec import EvidenceSpec
from rekomendasi.text import LexicalClassifier, TextEncoder, centroid_scores, text_hash

TEMPERATURE = 0.05  # softmax temperature of cosine similarities
TEXT, LABEL = "text", "competency_id"
"""Columns of :func:`labelled_texts`: a text and the competency it is about."""


@dataclass(frozen=True)
class TextModel:
    """A fitted text-to-competency model over ``classes``."""

    classes: np.ndarray
    lexical: LexicalClassifier
    encoder: TextEncoder | None
    label_vectors: np.ndarray
    labels: np.ndarray
    lexical_weight: float
    validation: dict[str, float] = field(default_factory=dict)
    _memo: dict[tuple[str, str], np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def methods(self) -> tuple[str, ...]:
        """Methods this model can score with."""
        return ("lexical", "embedding", "combined") if self.encoder is not None else ("lexical", "combined")

    def scores(self, texts: list[str], method: str = "combined") -> np.ndarray:
        """[text, class] probabilities over ``classes`` by ``method`` (lexical, embedding, combined).

        Each distinct text is scored once per method. ``combined`` embeds nothing when the measured
        lexical weight is 1: the sentence model is paid for only where it adds accuracy.
        """
        if method == "combined" and self.lexical_weight >= 1.0:
            method = "lexical"
        if method == "combined":
            w = self.lexical_weight
            return w * self.scores(texts, "lexical") + (1 - w) * self.scores(texts, "embedding")
        new = [t for t in dict.fromkeys(texts) if (method, t) not in self._memo]
        if new:
            fresh = self._lexical(new) if method == "lexical" else self._embedding(new)
            self._memo.update({(method, t): fresh[i] for i, t in enumerate(new)})
        if not texts:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        return np.stack([self._memo[(method, t)] for t in texts])

    def shipped(self, batches: Iterable[list[str]]) -> TextModel:
        """This model as a partitioned snapshot build sends it to every agency: with nothing left to embed.

        A sentence embedding depends, in its last bits, on the texts it is batched with, so the agencies
        must not embed their own texts. When the combination uses the sentence model (lexical weight
        below 1), each of ``batches`` (the distinct texts the agencies will score, batched as a
        whole-table build scores them) is embedded here first, and every agency reads those scores. The
        sentence model and the label vectors stay behind either way: they are what is heavy to send.
        """
        if self.encoder is not None and self.lexical_weight < 1.0:
            for texts in batches:
                self.scores(texts, "embedding")
        return replace(self, encoder=None, label_vectors=self.label_vectors[:, :0])

    def _embedding(self, texts: list[str]) -> np.ndarray:
        if self.encoder is None:
            raise ValueError(
                f"this text model has no sentence encoder ({len(texts)} texts to embed, e.g. {texts[0]!r}; "
                "a shipped model scores only the texts embedded before it was sent)"
            )
        sims = centroid_scores(self.label_vectors, self.labels, self.encoder.encode(texts), self.classes)
        return _softmax(sims / TEMPERATURE).astype(np.float32)

    def _lexical(self, texts: list[str]) -> np.ndarray:
        """Lexical probabilities re-indexed to ``classes`` (zero for classes without labelled text)."""
        probs = self.lexical.predict_proba(texts)
        full = np.zeros((len(texts), len(self.classes)), dtype=np.float32)
        index = {c: i for i, c in enumerate(self.classes)}
        for j, c in enumerate(self.lexical.classes_):
            full[:, index[c]] = probs[:, j]
        return full


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=1, keepdims=True))
    return np.asarray(z / z.sum(axis=1, keepdims=True))


def labelled_texts(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Distinct (text, competency_id) pairs the data itself labels."""
    indicators = tables["indicators"].dropna(subset=[Indicators.competency_id])
    feedback = tables["feedback"].dropna(subset=[Feedback.competency_id, Feedback.text])
    links = tables["catalog_competencies"].sort_values(
        [CatalogCompetencies.training_id, CatalogCompetencies.target_level],
        ascending=[True, False],
        kind="stable",
    )
    primary = links.drop_duplicates(CatalogCompetencies.training_id)
    catalog = tables["catalog"].merge(primary, on=Catalog.training_id)
    competencies = tables["competencies"]
    parts = [
        pd.DataFrame({TEXT: indicators[Indicators.description], LABEL: indicators[Indicators.competency_id]}),
        pd.DataFrame({TEXT: feedback[Feedback.text], LABEL: feedback[Feedback.competency_id]}),
        pd.DataFrame(
            {
                TEXT: catalog[Catalog.title] + ". " + catalog[Catalog.description].fillna(""),
                LABEL: catalog[CatalogCompetencies.competency_id],
            }
        ),
        pd.DataFrame(
            {
                TEXT: competencies[Competencies.name]
                + ". "
                + competencies[Competencies.description].fillna(""),
                LABEL: competencies[Competencies.competency_id],
            }
        ),
    ]
    frame = pd.concat(parts, ignore_index=True).astype({TEXT: "str", LABEL: "str"})
    return frame.drop_duplicates(TEXT).sort_values(TEXT, kind="stable").reset_index(drop=True)


WEIGHT_GRID = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)  # lexical weights tried; ties go to the lexical side
HOLDOUT_BUCKETS = 5  # a text is held out when its hash falls in the first of this many buckets


def held_out_mask(texts: Iterable[str]) -> np.ndarray:
    """Whether each text belongs to the held-out fifth of labelled text (bool per text).

    Decided by the text alone (its content hash), not by its position or the data it came with: a text
    is held out in every data directory, as-of view and run, so a sentence model tuned on the texts
    that are not (:mod:`rekomendasi.texttune`) has never seen any text :func:`fit_text_model` measures
    it on.
    """
    return np.array([int(text_hash(t), 16) % HOLDOUT_BUCKETS == 0 for t in texts], dtype=bool)


def fit_text_model(
    tables: Mapping[str, pd.DataFrame], spec: EvidenceSpec, encoder: TextEncoder | None
) -> TextModel:
    """Fit both text models on the data's labelled text and choose how to combine them.

    A fifth of the labelled text is held out (:func:`held_out_mask`): each model's top-1 accuracy is measured
    there, and the lexical weight of the combination is the one of :data:`WEIGHT_GRID` that scores
    best, provided it beats the lexical model alone by ``text.min_gain``; otherwise 1 (the spec's
    ``text.lexical_weight`` when there is too little labelled text to measure).
    """
    labelled = labelled_texts(tables)
    classes = np.array(sorted(tables["competencies"][Competencies.competency_id]), dtype=object)
    holdout = held_out_mask(labelled[TEXT])
    validation: dict[str, float] = {"labelled_texts": float(len(labelled))}
    vectors = encoder.encode(labelled[TEXT].tolist()) if encoder is not None else np.zeros((len(labelled), 0))
    weight = spec.text.lexical_weight if encoder is not None else 1.0
    if holdout.sum() >= 20 and labelled.loc[~holdout, LABEL].nunique() > 1:
        probe = TextModel(
            classes=classes,
            lexical=_fit_lexical(labelled[~holdout], spec),
            encoder=encoder,
            label_vectors=vectors[~holdout],
            labels=labelled.loc[~holdout, LABEL].to_numpy(),
            lexical_weight=1.0,
        )
        truth = labelled.loc[holdout, LABEL].to_numpy()
        held_out = labelled.loc[holdout, TEXT].tolist()
        scores = {m: probe.scores(held_out, m) for m in probe.methods if m != "combined"}
        for method in ("lexical", "embedding"):
            if method in scores:
                validation[f"holdout_top1_{method}"] = float(
                    np.mean(classes[scores[method].argmax(axis=1)] == truth)
                )
        if "embedding" in scores:
            accuracy = {
                w: float(
                    np.mean(
                        classes[(w * scores["lexical"] + (1 - w) * scores["embedding"]).argmax(axis=1)]
                        == truth
                    )
                )
                for w in WEIGHT_GRID
            }
            best = max(WEIGHT_GRID, key=lambda w: (accuracy[w], w))
            # Move away from the lexical model alone only for a real gain, not one lucky text.
            weight = best if accuracy[best] >= accuracy[1.0] + spec.text.min_gain else 1.0
        validation["holdout_top1_combined"] = (
            accuracy[weight] if "embedding" in scores else validation["holdout_top1_lexical"]
        )
    validation["lexical_weight"] = weight
    return TextModel(
        classes=classes,
        lexical=_fit_lexical(labelled, spec),
        encoder=encoder,
        label_vectors=vectors,
        labels=labelled[LABEL].to_numpy(),
        lexical_weight=weight,
        validation=validation,
    )


def _fit_lexical(labelled: pd.DataFrame, spec: EvidenceSpec) -> LexicalClassifier:
    model = LexicalClassifier(tuple(spec.text.ngram_range))  # type: ignore[arg-type]
    return model.fit(labelled[TEXT].tolist(), labelled[LABEL].tolist())


def factorized(texts: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each row's code into the distinct texts, and the distinct texts sorted: :func:`assign` scores every
    distinct text once, in this order."""
    codes, uniques = pd.factorize(texts.astype("str"), sort=True)
    return codes, list(uniques)


def assign(
    model: TextModel,
    texts: pd.Series,
    allowed: np.ndarray | None,
    method: str = "combined",
    chunk: int = 400_000,
) -> tuple[np.ndarray, np.ndarray]:
    """The competency and confidence of each row's text.

    Args:
        model: a fitted text model.
        texts: one text per row (duplicates are scored once).
        allowed: optional [row, class] mask of competencies a row may take (the employee's standard).
        method: ``lexical``, ``embedding`` or ``combined``.

    Returns:
        (competency ids, confidence in [0, 1]) per row.
    """
    codes, uniques = factorized(texts)
    probs = model.scores(uniques, method)
    comp = np.empty(len(texts), dtype=object)
    conf = np.zeros(len(texts), dtype=np.float32)
    for start in range(0, len(texts), chunk):
        part = slice(start, start + chunk)
        scores = probs[codes[part]]
        if allowed is not None:
            masked = scores * allowed[part]
            # A row whose standard excludes every likely class falls back to the unrestricted scores.
            empty = masked.sum(axis=1) <= 0
            scores = np.where(
                empty[:, None], scores, masked / np.maximum(masked.sum(axis=1, keepdims=True), 1e-12)
            )
        best = scores.argmax(axis=1)
        comp[part] = model.classes[best]
        conf[part] = scores[np.arange(len(best)), best]
    return comp, conf
