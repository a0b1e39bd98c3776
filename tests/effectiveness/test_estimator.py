"""The effectiveness estimator: matched controls, summaries with intervals, the ranker input."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from rekomendasi.candidates import ENTRY_COLUMNS, Catalogue
from rekomendasi.contract import Dataset
from rekomendasi.effectiveness import COLUMNS, EffectConfig, Effectiveness, estimate_effectiveness
from rekomendasi.effectiveness.estimate import summarise
from rekomendasi.effectiveness.feature import entry_effect_values, fill_entry_effect
from rekomendasi.effectiveness.panel import _matched_control, enrolment_gains
from rekomendasi.effectiveness.pooling import pooled_entries
from rekomendasi.features import EvidenceSpec, build_snapshot
from rekomendasi.ranking.pairs import FEATURES
from rekomendasi.simulate.assumptions import KNOBS, Assumptions


def _cells(n: int, rng: np.random.Generator, low: bool) -> pd.DataFrame:
    """(employee, competency) rows whose estimated level drifts back towards 3 by half its distance a
    year, as noisy estimates of people picked for their gaps do; low=True picks people estimated low."""
    before = rng.uniform(1.0, 2.2, n) if low else rng.uniform(1.0, 5.0, n)
    return pd.DataFrame(
        {
            "competency_id": rng.choice(["a", "b"], n),
            "jenis": "pelaksana",
            "before": before,
            "required": 3.0,
            "uncertainty": 0.5,
            "evidence": 1.0,
            "delta": 0.5 * (3.0 - before) + rng.normal(0, 0.05, n),
        }
    )


def test_matched_controls_remove_the_drift_comparable_people_have_anyway() -> None:
    rng = np.random.default_rng(0)
    controls = _cells(4000, rng, low=False)
    participants = _cells(300, rng, low=True)
    participants["delta"] += 0.3  # what the course added
    participants["control"] = _matched_control(participants, controls)
    participants["nip"], participants["training_id"] = np.arange(300).astype(str), "TRN-1"
    participants["year"] = participants["through"] = participants["cut"] = 2024
    gains = enrolment_gains(participants).frame
    # The naive change carries the drift back to the mean (about 0.5 * (3 - 1.6) = 0.7 levels)...
    assert gains["naive"].mean() > 0.8
    # ...the gain beyond the matched controls is what the course added.
    assert gains["gain"].mean() == pytest.approx(0.3, abs=0.03)


def test_matching_stays_within_the_competency() -> None:
    rng = np.random.default_rng(1)
    controls = _cells(2000, rng, low=False)
    controls.loc[controls["competency_id"] == "b", "delta"] += 1.0  # b drifts up a whole level
    participants = _cells(200, rng, low=True)
    control = _matched_control(participants, controls)
    on_b = participants["competency_id"].to_numpy() == "b"
    assert control[on_b].mean() - control[~on_b].mean() == pytest.approx(1.0, abs=0.1)


def test_summaries_give_intervals_around_the_mean_or_the_reason() -> None:
    rng = np.random.default_rng(2)
    gains = pd.DataFrame(
        {
            "training_id": ["TRN-1"] * 60 + ["TRN-2"] * 5,
            "gain": np.r_[rng.normal(0.2, 0.1, 60), rng.normal(0.0, 0.1, 5)],
            "naive": np.r_[rng.normal(0.3, 0.1, 60), rng.normal(0.1, 0.1, 5)],
        }
    )
    config = EffectConfig(min_participants=20, resamples=500, seed=3)
    table = summarise(gains, "training_id", config, np.random.default_rng(config.seed)).set_index(
        "training_id"
    )
    one = table.loc["TRN-1"]
    assert one["participants"] == 60 and pd.isna(one["reason"])
    assert one["ci_low"] < one["effect"] < one["ci_high"]
    assert one["effect"] == pytest.approx(gains["gain"][:60].mean())
    # The interval is about two standard errors either side (0.1 / sqrt(60) ~ 0.013).
    assert 0.03 < one["ci_high"] - one["ci_low"] < 0.08
    assert one["naive_low"] < one["naive"] < one["naive_high"]
    two = table.loc["TRN-2"]
    assert pd.isna(two["effect"]) and two["reason"] == "too few participants: 5 measured, 20 needed"
    again = summarise(gains, "training_id", config, np.random.default_rng(config.seed)).set_index(
        "training_id"
    )
    assert again.loc["TRN-1", "ci_low"] == one["ci_low"]  # the same seed, the same interval


def test_the_ranker_input_of_a_year_only_sees_what_was_measured_before_it() -> None:
    # One enrolment of 2023 as measured at the end of 2023 and again at the end of 2024, one of 2024.
    gains = pd.DataFrame(
        {
            "nip": ["1", "1", "2", "3"],
            "training_id": ["TRN-1", "TRN-1", "TRN-1", "TRN-2"],
            "year": [2023, 2023, 2024, 2024],
            "cut": [2023, 2024, 2024, 2024],
            "gain": [0.4, 0.6, -2.0, 0.1],
        }
    )
    features = pd.DataFrame({"x": np.zeros(4)})
    year = np.array([2024, 2024, 2025, 2025])
    fill_entry_effect(features, year, np.array(["TRN-1", "TRN-2", "TRN-1", "TRN-2"]), gains)
    values = features["entry_effect"].to_numpy()
    # 2024: only what was known at the end of 2023 (one participant, shrunk to the mean of that cut).
    assert values[0] == pytest.approx((0.4 + 10 * 0.4) / 11)
    assert np.isnan(values[1])  # nothing measured of TRN-2 by then
    # 2025: the cut of 2024, each enrolment as measured then.
    mean = (0.6 - 2.0 + 0.1) / 3
    assert values[2] == pytest.approx((0.6 - 2.0 + 10 * mean) / 12)
    assert values[3] == pytest.approx((0.1 + 10 * mean) / 11)
    assert entry_effect_values(gains, 2022) == {}
    assert entry_effect_values(gains) == pytest.approx({"TRN-1": values[2], "TRN-2": values[3]})


def test_the_catalogue_takes_a_models_values_and_misses_the_rest(
    small_dataset: Dataset, spec: EvidenceSpec
) -> None:
    assert "entry_effect" in FEATURES
    snapshot = build_snapshot(small_dataset, dt.date(2025, 12, 31), spec, encoder=None)
    plain = Catalogue.from_snapshot(snapshot)
    column = ENTRY_COLUMNS.index("entry_effect")
    assert np.isnan(plain.features[:, column]).all()
    first = str(plain.ids[0])
    model = type("Model", (), {"entry_effects_": {first: 0.25, "TRN-NOT-THERE": 1.0}})()
    filled = Catalogue.for_model(snapshot, model)
    assert filled.features[0, column] == 0.25 and np.isnan(filled.features[1:, column]).all()
    others = [i for i in range(len(ENTRY_COLUMNS)) if i != column]
    np.testing.assert_array_equal(filled.features[:, others], plain.features[:, others])


def test_every_entry_once_with_the_contract_columns(small_dataset: Dataset, spec: EvidenceSpec) -> None:
    config = EffectConfig(min_participants=5, resamples=200)
    result = estimate_effectiveness(small_dataset, spec, dt.date(2025, 12, 31), config)
    table = result.table()
    catalog = small_dataset["catalog"]
    assert list(table.columns) == list(COLUMNS)
    assert sorted(table["training_id"]) == sorted(catalog["training_id"])
    numbered = table["effect"].notna()
    assert numbered.any() and (~numbered).any()
    assert (table.loc[numbered, "participants"] >= 5).all() and table.loc[numbered, "reason"].isna().all()
    assert (table.loc[~numbered, "participants"] < 5).all() and table.loc[~numbered, "reason"].notna().all()
    assert (table.loc[numbered, "ci_low"] <= table.loc[numbered, "effect"]).all()
    assert (table.loc[numbered, "effect"] <= table.loc[numbered, "ci_high"]).all()
    assert set(result.checks["check"]) == {"participants", "placebo"}
    assert result.providers["participants"].sum() == result.entries["participants"].sum()
    back = Effectiveness.from_dict(result.to_dict())
    pd.testing.assert_frame_equal(back.table(), table, check_dtype=False)
    assert back.as_of == result.as_of and back.config == config
    assert "nip" not in str(result.to_dict())  # the published tables name nobody


def test_a_knob_that_is_never_drawn_leaves_the_other_draws_as_they_were() -> None:
    drawn = Assumptions.draw(np.random.default_rng(11))
    assert drawn.effect_scale == 1.0
    rng = np.random.default_rng(11)
    expected = {
        n: round(float(rng.uniform(*k.plausible)), 3) for n, k in KNOBS.items() if n != "effect_scale"
    }
    assert {n: getattr(drawn, n) for n in expected} == expected


def _kind_world(spread: float, participants: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """40 entries of two modalities; each entry's true effect is its modality's plus ``spread`` of its
    own; participants' gains are that plus noise (SD 0.25)."""
    rng = np.random.default_rng(seed)
    ids = [f"TRN-{i:03d}" for i in range(40)]
    modality = np.where(np.arange(40) % 2 == 0, "klasikal", "e_learning")
    true = pd.Series(np.where(modality == "klasikal", 0.15, 0.02) + rng.normal(0, spread, 40), index=ids)
    gains = pd.DataFrame(
        {
            "training_id": np.repeat(ids, participants),
            "gain": np.repeat(true.to_numpy(), participants) + rng.normal(0, 0.25, 40 * participants),
        }
    )
    attributes = pd.DataFrame({"training_id": ids, "modality": modality, "jp": 24, "n_targets": 2})
    return gains, attributes, true


def test_pooling_leans_on_the_kind_where_entries_do_not_differ_and_on_their_own_where_they_do() -> None:
    gains, attributes, true = _kind_world(spread=0.0, participants=30, seed=1)
    same = pooled_entries(gains, attributes, 300, 0.95, np.random.default_rng(0)).set_index("training_id")
    assert same["own_weight"].max() < 0.2
    raw = gains.groupby("training_id")["gain"].mean()
    # Pooled, the estimates are nearer the truth than each entry's own noisy mean.
    assert ((same["effect"] - true) ** 2).mean() < 0.5 * ((raw - true) ** 2).mean()
    assert ((same["ci_low"] <= same["effect"]) & (same["effect"] <= same["ci_high"])).all()

    gains, attributes, true = _kind_world(spread=0.3, participants=200, seed=2)
    apart = pooled_entries(gains, attributes, 300, 0.95, np.random.default_rng(0)).set_index("training_id")
    assert apart["own_weight"].min() > 0.8  # real differences, well measured: its own figure
    raw = gains.groupby("training_id")["gain"].mean()
    assert np.abs(apart["effect"] - raw).max() < 0.05
    assert ((apart["ci_low"] <= true) & (true <= apart["ci_high"])).mean() > 0.8
