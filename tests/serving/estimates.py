"""Hand-made course-effectiveness estimates for the served world's catalogue, and serving them.

The served world's champion may or may not carry estimates of its own (it does once training makes
them): the tests replace whatever it carries with these, whose numbers they know, or with none.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from rekomendasi.effectiveness import COLUMNS, EffectConfig, Effectiveness
from rekomendasi.effectiveness.estimate import POOLED_COLUMNS
from rekomendasi.serving.effects import Effects
from rekomendasi.serving.engine import Engine

AS_OF = dt.date(2025, 12, 31)
MIN = EffectConfig().min_participants


def measured(participants: int, effect: float, low: float, high: float) -> dict[str, object]:
    """An estimate with a number (the naive change 0.2 above it, as a regression to the mean makes it)."""
    return {
        "participants": participants,
        "effect": effect,
        "ci_low": low,
        "ci_high": high,
        "reason": None,
        "naive": effect + 0.2,
        "naive_low": low + 0.2,
        "naive_high": high + 0.2,
    }


def pooled_entry(
    participants: int, effect: float, low: float, high: float, raw: float, kind: float, weight: float
) -> dict[str, object]:
    """An entry's pooled estimate (:mod:`rekomendasi.effectiveness.pooling`): ``effect`` should be
    ``kind + weight * (raw - kind)``; the raw interval is 0.08 either side of ``raw``."""
    assert abs(effect - (kind + weight * (raw - kind))) < 5e-4, "not a pooled estimate"
    parts = {"raw_effect": raw, "raw_low": round(raw - 0.08, 4), "raw_high": round(raw + 0.08, 4)}
    return measured(participants, effect, low, high) | parts | {"kind_effect": kind, "own_weight": weight}


def _parts(values: dict[str, object]) -> dict[str, object]:
    """The pooling's columns of an entry's values: as given, else made up around its effect (its own mean
    0.02 above, its kind's 0.02 below, each weighed at a half); None without an effect."""
    effect = values.get("effect")
    if not isinstance(effect, float | int):
        return dict.fromkeys(POOLED_COLUMNS)
    if "own_weight" in values:
        return {c: values[c] for c in POOLED_COLUMNS}
    raw = round(effect + 0.02, 4)
    parts: dict[str, object] = {
        "raw_effect": raw,
        "raw_low": round(raw - 0.08, 4),
        "raw_high": round(raw + 0.08, 4),
    }
    return parts | {"kind_effect": round(effect - 0.02, 4), "own_weight": 0.5}


def too_few(participants: int) -> dict[str, object]:
    return {
        "participants": participants,
        "effect": None,
        "ci_low": None,
        "ci_high": None,
        "reason": f"too few participants: {participants} measured, {MIN} needed",
        "naive": None,
        "naive_low": None,
        "naive_high": None,
    }


def _default(i: int) -> dict[str, object]:
    """Every fourth entry too few; the others a distinct number."""
    if i % 4 == 3:
        return too_few(i % MIN)
    effect = round(0.01 * (i % 25) - 0.04, 4)
    return measured(MIN + i, effect, round(effect - 0.05, 4), round(effect + 0.05, 4))


def hand_made(
    catalog: pd.DataFrame,
    pinned: dict[str, dict[str, object]] | None = None,
    left_out: tuple[str, ...] = (),
    before_pooling: bool = False,
) -> Effectiveness:
    """Estimates of every entry of ``catalog`` (but ``left_out``), ``pinned`` ones as given; each provider
    and modality pooled with a number, but the last modality (of two or more), with too few.

    Args:
        before_pooling: the entries without the pooling's columns (raw_effect, ..., own_weight), as a
            model trained before they existed carries them.
    """
    pinned = pinned or {}
    rows = []
    for i, row in enumerate(catalog.sort_values("training_id").to_dict("records")):
        tid = str(row["training_id"])
        if tid in left_out:
            continue
        values = pinned.get(tid) or _default(i)
        rows.append(
            {
                "training_id": tid,
                "provider": row["provider"],
                **values,
                "title": row["title"],
                "modality": row["modality"],
                **_parts(values),
            }
        )
    columns = [*COLUMNS, "title", "modality", "naive", "naive_low", "naive_high"]
    entries = pd.DataFrame(rows)[columns if before_pooling else [*columns, *POOLED_COLUMNS]]

    def pooled(by: str, base: float, last_too_few: bool) -> pd.DataFrame:
        keys = sorted(entries[by].dropna().unique())
        out = []
        for k, key in enumerate(keys):
            group = entries[entries[by] == key]
            n = int(group["participants"].sum())
            if last_too_few and len(keys) > 1 and k == len(keys) - 1:
                values = too_few(min(n, MIN - 1))
            else:
                values = measured(n, base + 0.01 * k, base + 0.01 * k - 0.02, base + 0.01 * k + 0.02)
            out.append({by: key, "entries": int((group["participants"] > 0).sum()), **values})
        return pd.DataFrame(out)

    checks = pd.DataFrame(
        [
            {"check": "participants", **measured(1000, 0.07, 0.06, 0.08)},
            {"check": "placebo", **measured(800, 0.001, -0.01, 0.012)},
        ]
    ).drop(columns=["reason"])
    return Effectiveness(
        as_of=AS_OF,
        entries=entries,
        providers=pooled("provider", 0.05, last_too_few=False),
        modalities=pooled("modality", 0.03, last_too_few=True),
        checks=checks,
        enrolments=pd.DataFrame(),
        years=[2023, 2024, 2025],
    )


def serve_estimates(monkeypatch: pytest.MonkeyPatch, engine: Engine, estimates: Effectiveness | None) -> None:
    """Make the loaded champion carry ``estimates`` (None: none, as a model trained before them) the way
    a trained one does (``effectiveness_``, what ``to_dict`` returns), and the engine read them as it does
    at load. ``monkeypatch`` puts both back after the test."""
    carried = None if estimates is None else estimates.to_dict()
    monkeypatch.setattr(engine.model, "effectiveness_", carried, raising=False)
    monkeypatch.setattr(engine, "effects", Effects.of_model(engine.model, engine.model_version.version))
