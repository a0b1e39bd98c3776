"""The simulator's assumptions are knobs: the defaults give the old world byte for byte, each knob moves
what it says it moves (measured on small worlds against the default), and a YAML file of knobs is
validated with messages that name the problem."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import spearmanr
from typer.testing import CliRunner

from rekomendasi.cli import app
from rekomendasi.contract.enums import RATING3
from rekomendasi.errors import ConfigError
from rekomendasi.simulate import SimConfig, dynamics, simulate
from rekomendasi.simulate.assessments import generate_assessments
from rekomendasi.simulate.assumptions import (
    DEFAULT,
    KNOBS,
    Assumptions,
    assumptions_from_mapping,
    dump_assumptions,
    load_assumptions,
)
from rekomendasi.simulate.catalog import MODALITY_EFFICIENCY, effect_z
from rekomendasi.simulate.feedback import generate_feedback
from rekomendasi.simulate.history import History, simulate_history
from rekomendasi.simulate.indicators import generate_indicators
from rekomendasi.simulate.levels import LevelModel
from rekomendasi.simulate.people import People, build_people
from rekomendasi.simulate.performance import generate_behaviour, generate_skp
from rekomendasi.simulate.truth import TRUTH_README, truth_readme
from rekomendasi.simulate.world import World, build_world
from tests.simulate.test_bounded import PINNED_120_SEED_9

N = 1500
SEED = 13
runner = CliRunner()


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()[:16]
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --- defaults ---------------------------------------------------------------------------------------------


def test_default_assumptions_are_the_world_before_knobs(tmp_path: Path) -> None:
    simulate(SimConfig(employees=120, seed=9, assumptions=Assumptions()), tmp_path / "explicit")
    assert _digests(tmp_path / "explicit") == PINNED_120_SEED_9
    assert SimConfig(employees=120) == SimConfig(employees=120, assumptions=Assumptions())
    assert Assumptions().changed() == {} and truth_readme(Assumptions()) == TRUTH_README


def test_an_empty_file_and_the_defaults_written_out_load_as_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("")
    assert load_assumptions(tmp_path / "empty.yaml") == DEFAULT
    changed = DEFAULT.replace(skp_noise=2.0, match_width=1.1)
    dump_assumptions(changed, tmp_path / "changed.yaml")
    assert load_assumptions(tmp_path / "changed.yaml") == changed
    assert yaml.safe_load((tmp_path / "changed.yaml").read_text()) == {"skp_noise": 2.0, "match_width": 1.1}


def test_every_knob_has_a_range_holding_its_default_and_plausible_draws() -> None:
    assert len(KNOBS) >= 30
    for name, knob in KNOBS.items():
        default = getattr(DEFAULT, name)
        assert knob.low <= knob.plausible[0] <= knob.plausible[1] <= knob.high, name
        assert knob.low <= default <= knob.high, name
        assert knob.group in ("evidence", "outcomes", "policy", "missingness") and knob.doc
    drawn = [Assumptions.draw(np.random.default_rng(s)) for s in range(3)]
    assert len({a.match_width for a in drawn}) == 3  # draws differ, and each is valid (constructed)
    assert Assumptions.draw(np.random.default_rng(1)) == Assumptions.draw(np.random.default_rng(1))


# --- YAML ---------------------------------------------------------------------------------------------------


def test_an_unknown_knob_is_named_with_the_valid_ones(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("skp_noise: 2\nskp_nois: 3\n")
    with pytest.raises(ConfigError) as err:
        load_assumptions(path)
    message = err.value.message
    assert str(path) in message and "'skp_nois'" in message and "did you mean skp_noise" in message
    assert all(name in message for name in KNOBS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("skp_noise: -1\n", "skp_noise: Input should be greater than or equal to 0"),
        ("text_noise: 1.5\n", "text_noise: Input should be less than or equal to 1"),
        ("match_width: wide\n", "match_width: Input should be a valid number"),
        ("- skp_noise\n", "a mapping of knob names to numbers, got list"),
        ("skp_noise: [1\n", "not valid YAML"),
    ],
)
def test_bad_values_are_refused_naming_the_knob(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_assumptions(path)


def test_a_missing_file_and_a_direct_bad_value() -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_assumptions(Path("/nonexistent/assumptions.yaml"))
    with pytest.raises(ValueError, match=r"quality_sd must be in \[0.0, 0.8\]"):
        Assumptions(quality_sd=2.0)
    with pytest.raises(ConfigError, match="unknown assumption 'nope'"):
        assumptions_from_mapping({"nope": 1})


def test_simulate_reads_the_file_and_refuses_a_bad_one(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("policy_gap: 1\npolicy_gapp: 2\n")
    result = runner.invoke(
        app, ["simulate", "--out", str(tmp_path / "w"), "--employees", "40", "--assumptions", str(bad)]
    )
    assert result.exit_code == 2
    assert "unknown assumption 'policy_gapp'" in result.output and not (tmp_path / "w").exists()
    good = tmp_path / "good.yaml"
    good.write_text("quality_sd: 0.5\nshare_assessed: 0.2\n")
    args = [
        "simulate",
        "--out",
        str(tmp_path / "w"),
        "--employees",
        "40",
        "--seed",
        "2",
        "--assumptions",
        str(good),
    ]
    assert runner.invoke(app, args).exit_code == 0
    readme = (tmp_path / "w" / "truth" / "README.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", readme, re.S)
    assert block is not None and yaml.safe_load(block.group(1)) == {"quality_sd": 0.5, "share_assessed": 0.2}
    assert "| outcomes | quality_sd | **0.5** | 0.2 |" in readme


# --- evidence knobs, on one world whose evidence is generated under each assumption ------------------------


@dataclasses.dataclass
class Base:
    config: SimConfig
    world: World
    people: People
    history: History
    levels: LevelModel
    mid_year: dict[int, np.ndarray]

    def under(self, **knobs: float) -> SimConfig:
        return dataclasses.replace(self.config, assumptions=DEFAULT.replace(**knobs))


@pytest.fixture(scope="module")
def base() -> Base:
    config = SimConfig(employees=N, seed=SEED)
    world = build_world(config)
    people = build_people(config, world)
    history = simulate_history(config, world, people, keep_start_levels=False)
    levels = LevelModel(config, world, people, history)
    mid_year = {y: levels.dense(pd.Timestamp(y, 7, 1)) for y in config.history_years}
    return Base(config, world, people, history, levels, mid_year)


def _assessment_error(base: Base, config: SimConfig) -> pd.Series:
    frame = generate_assessments(config, base.people, base.levels, base.world.competency_ids)
    true = base.levels.at(frame["emp"].to_numpy(), frame["comp"].to_numpy(), frame["assessed_on"].to_numpy())
    return frame["level"] - true


def test_assessment_noise_bias_and_coverage(base: Base) -> None:
    default = _assessment_error(base, base.config)
    noisy = _assessment_error(base, base.under(assessment_noise=3.0))
    assert noisy.abs().mean() > 1.8 * default.abs().mean()
    shifted = _assessment_error(base, base.under(assessment_bias=0.6))
    assert shifted.mean() - default.mean() > 0.35  # less than 0.6 where [1, 5] clips
    frame = generate_assessments(
        base.under(share_assessed=0.15), base.people, base.levels, base.world.competency_ids
    )
    assert frame["emp"].nunique() / N == pytest.approx(0.15, abs=0.03)


def _skp(base: Base, config: SimConfig) -> pd.DataFrame:
    _, latent = generate_behaviour(config, base.people, base.levels, base.mid_year, base.world.competency_ids)
    return generate_skp(config, base.world, base.people, base.levels, base.mid_year, latent)


def _skp_truth_correlation(base: Base, skp: pd.DataFrame) -> float:
    annual = skp[skp["period"].astype(str) == str(base.config.as_of.year)]
    emp = annual["emp"].to_numpy()
    gap = (base.mid_year[base.config.as_of.year] - base.levels.required)[emp]
    mean_gap = np.where(base.levels.in_standard[emp], gap, 0).sum(1) / base.levels.in_standard[emp].sum(1)
    score = -pd.Categorical(annual["hasil_kerja"], categories=RATING3).codes  # atas = 0 -> highest
    return float(spearmanr(score, mean_gap).statistic)


def test_skp_noise_weakens_its_link_to_true_levels_and_leniency_rates_more_above(base: Base) -> None:
    default = _skp(base, base.config)
    assert _skp_truth_correlation(base, _skp(base, base.under(skp_noise=6.0))) < (
        _skp_truth_correlation(base, default) - 0.15
    )
    lenient = _skp(base, base.under(skp_leniency=0.3))
    above = "di_atas_ekspektasi"
    assert (lenient["hasil_kerja"] == above).mean() > (default["hasil_kerja"] == above).mean() + 0.15
    assert len(_skp(base, base.under(skp_missing=0.5))) < 0.6 * len(default)


def test_behaviour_bias_and_noise(base: Base) -> None:
    ids = base.world.competency_ids
    default, _ = generate_behaviour(base.config, base.people, base.levels, base.mid_year, ids)
    lenient, _ = generate_behaviour(
        base.under(behaviour_bias=0.5), base.people, base.levels, base.mid_year, ids
    )
    above = "di_atas_ekspektasi"
    assert (lenient["rating"] == above).mean() > (default["rating"] == above).mean() + 0.2
    noisy, _ = generate_behaviour(
        base.under(behaviour_noise=4.0), base.people, base.levels, base.mid_year, ids
    )
    assert (noisy["rating"] == "di_bawah_ekspektasi").mean() > 2 * (
        default["rating"] == "di_bawah_ekspektasi"
    ).mean()


def test_indicators_inflation_noise_tags_and_off_topic_text(base: Base) -> None:
    ids = base.world.competency_ids

    def attainment(config: SimConfig) -> pd.DataFrame:
        frame = generate_indicators(config, base.people, base.levels, base.mid_year, ids)
        return frame.assign(attainment=frame["realization"] / frame["target"])

    default = attainment(base.config)
    assert (
        attainment(base.under(indicator_inflation=0.3))["attainment"].mean()
        > default["attainment"].mean() + 0.15
    )
    assert attainment(base.under(indicator_noise=4.0))["attainment"].std() > 1.5 * default["attainment"].std()
    assert default["competency_id"].notna().mean() == pytest.approx(0.4, abs=0.03)
    tagged = attainment(base.under(indicator_tag_share=0.9))["competency_id"].notna().mean()
    assert tagged == pytest.approx(0.9, abs=0.03)
    # The tag names the competency the indicator measures; off-topic text is about another one.
    for frame, low, high in ((default, 0.0, 0.0), (attainment(base.under(text_noise=0.5)), 0.3, 0.5)):
        rows = frame[frame["competency_id"].notna()]
        off = (rows["competency_id"].astype(str).map(ids.index) != rows["comp"]).mean()
        assert low <= off <= high


def test_feedback_volume_bias_and_noise(base: Base) -> None:
    ids = base.world.competency_ids
    default = generate_feedback(base.config, base.people, base.levels, ids)
    assert len(
        generate_feedback(base.under(feedback_per_year=0.2), base.people, base.levels, ids)
    ) < 0.4 * len(default)
    biased = generate_feedback(base.under(feedback_bias=1.0), base.people, base.levels, ids)
    assert biased["rating"].mean() > default["rating"].mean() + 0.6
    noisy = generate_feedback(base.under(feedback_noise=4.0), base.people, base.levels, ids)
    assert noisy["rating"].astype(float).std() > 1.3 * default["rating"].astype(float).std()


# --- outcome knobs: the catalogue and the level-fit model ---------------------------------------------------


def _catalog(**knobs: float) -> pd.DataFrame:
    return build_world(SimConfig(employees=50, seed=SEED, assumptions=DEFAULT.replace(**knobs))).catalog


def test_quality_spread_and_how_visible_it_is() -> None:
    default = _catalog()
    regular = default["mandatory_for"].isna()
    assert _catalog(quality_sd=0.6)["effect"][regular].var() > 2 * default["effect"][regular].var()
    efficiency = default["modality"].map(MODALITY_EFFICIENCY)[regular]

    def modality_corr(catalog: pd.DataFrame) -> float:
        return float(spearmanr(efficiency, catalog["effect"][regular]).statistic)

    assert modality_corr(default) > 0.3
    assert modality_corr(_catalog(modality_weight=-1.0)) < modality_corr(_catalog(modality_weight=0.0)) - 0.2
    # Visibility knobs move what varies, not the catalogue's mean effect.
    reweighted = _catalog(modality_weight=-1.0, jp_weight=0.2)["effect"][regular]
    assert reweighted.mean() == pytest.approx(default["effect"][regular].mean(), rel=1e-3)
    with_provider = _catalog(provider_effect_sd=0.8)
    spread = with_provider[regular].groupby("provider")["effect"].mean().std()
    assert spread > 1.5 * default[regular].groupby("provider")["effect"].mean().std()
    popular = _catalog(popularity_quality_corr=0.8)
    assert spearmanr(np.log(popular["popularity"][regular]), effect_z(popular)[regular]).statistic > 0.5


def test_fit_width_floor_and_completion() -> None:
    level, target = np.array([[1.0], [2.0]]), np.full((2, 1), 3.0)
    narrow = dynamics.level_match(level, target, DEFAULT.replace(match_width=0.3))[:, 0]
    wide = dynamics.level_match(level, target, DEFAULT.replace(match_width=2.0))[:, 0]
    assert narrow[1] == wide[1] == 1.0
    assert narrow[0] < 0.01 and wide[0] > 0.8
    level, valid, effect = np.array([[1.0], [1.5]]), np.ones((2, 1), bool), np.ones(2)
    fitted = dynamics.expected_gain(level, target, valid, effect)
    flat = dynamics.expected_gain(level, target, valid, effect, assumptions=DEFAULT.replace(match_floor=1.0))
    assert fitted[0, 0] < fitted[1, 0] / 2
    assert flat[0, 0] == flat[1, 0] == dynamics.MAX_STEP  # full headroom for both: fit no longer matters
    p = dynamics.completion_probability(
        np.array([0.0, 1.0]), np.zeros(2), DEFAULT.replace(completion_fit=0.0)
    )
    assert p[0] == p[1] == pytest.approx(0.6)


# --- the past policy and its outcomes ----------------------------------------------------------------------


def _regular(**knobs: float) -> tuple[World, pd.DataFrame, History]:
    config = SimConfig(employees=1200, seed=SEED, assumptions=DEFAULT.replace(**knobs))
    world = build_world(config)
    history = simulate_history(config, world, build_people(config, world), keep_start_levels=False)
    training = history.training
    regular = training[world.catalog["mandatory_for"].isna().to_numpy()[training["entry"].to_numpy()]]
    return world, regular, history


def test_the_policy_knobs_decide_what_was_taken() -> None:
    world, default, _ = _regular()
    popularity = np.log(world.catalog["popularity"].to_numpy())

    def popularity_corr(regular: pd.DataFrame) -> float:
        taken = np.bincount(regular["entry"].to_numpy(), minlength=len(popularity))
        return float(spearmanr(taken, popularity).statistic)

    assert popularity_corr(default) > 0.3
    assert abs(popularity_corr(_regular(policy_popularity=0.0, policy_gap=0.0)[1])) < 0.15
    assert popularity_corr(_regular(policy_popularity=3.0)[1]) > popularity_corr(default) + 0.1
    assert len(_regular(trainings_per_year=0.5)[1]) < 0.5 * len(default)
    z = effect_z(world.catalog)
    informed = _regular(policy_quality=2.0)[1]
    assert z[informed["entry"].to_numpy()].mean() > z[default["entry"].to_numpy()].mean() + 0.5


def test_satisfaction_and_gain_noise_follow_their_knobs() -> None:
    world, visible, _ = _regular(satisfaction_effect=1.5)
    z = effect_z(world.catalog)
    rated = visible[visible["satisfaction"] > 0]
    assert spearmanr(rated["satisfaction"], z[rated["entry"].to_numpy()]).statistic > 0.3
    _, _, quiet = _regular(gain_noise=0.05)
    _, _, loud = _regular(gain_noise=1.0)
    # The first year's enrolments are the same in both (levels have not moved apart yet): their gains
    # differ by the noise factor alone, exp(N(0, 1) x (1.0 - 0.05)).
    keys = ["emp", "entry", "comp", "date"]
    first = quiet.gains[pd.to_datetime(quiet.gains["date"]).dt.year == 2023]
    paired = first.merge(loud.gains, on=keys, suffixes=("_quiet", "_loud"))
    assert len(paired) > 0.9 * len(first) > 300
    assert np.log(paired["gain_loud"] / paired["gain_quiet"]).std() == pytest.approx(0.95, abs=0.1)


def test_agencies_keep_fewer_records_when_told() -> None:
    config = SimConfig(employees=20_000, seed=SEED)
    sparse = dataclasses.replace(
        config,
        assumptions=DEFAULT.replace(daily_reports_central=0.0, daily_reports_regional=0.0, periodic_skp=0.0),
    )
    default, none = build_world(config).agencies, build_world(sparse).agencies
    assert default["daily_reports"].sum() > 2 and default["periodic_skp"].sum() > 1
    assert none["daily_reports"].sum() == none["periodic_skp"].sum() == 1  # the largest regional one always


def test_the_history_and_truth_benefit_use_the_same_assumptions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    knobs = DEFAULT.replace(match_width=1.3, match_floor=0.2, completion_fit=0.1, gain_noise=0.6)
    seen: dict[str, set[Assumptions]] = {"expected_gain": set(), "pair_benefit": set()}
    for name in seen:
        original = getattr(dynamics, name)

        def spy(*args: object, _name: str = name, _original: object = original, **kwargs: object) -> object:
            seen[_name].add(kwargs.get("assumptions", args[-1]))  # type: ignore[arg-type]
            return _original(*args, **kwargs)  # type: ignore[operator]

        monkeypatch.setattr(dynamics, name, spy)
    simulate(SimConfig(employees=60, seed=4, assumptions=knobs), tmp_path / "w")
    assert seen == {"expected_gain": {knobs}, "pair_benefit": {knobs}}
