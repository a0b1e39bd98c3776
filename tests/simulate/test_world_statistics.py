"""The simulated world's statistics, pinned so later changes cannot quietly break its realism.

Bounds come from domain.md (shares of position types, PPPK, gender, age, missing assessments) and from
the SKP rules (predikat mostly `baik`, clustered by unit).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rekomendasi.contract import load_dataset
from rekomendasi.simulate import SimConfig, dynamics, simulate
from rekomendasi.simulate.history import simulate_history
from rekomendasi.simulate.people import build_people
from rekomendasi.simulate.world import build_world

N = 4000


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stats") / "data"
    simulate(SimConfig(employees=N, seed=11), out)
    return out


@pytest.fixture(scope="module")
def data(world_dir: Path):  # type: ignore[no-untyped-def]
    return load_dataset(world_dir)


def test_round_trip_has_no_quarantine(data) -> None:  # type: ignore[no-untyped-def]
    assert data.quarantine.empty
    assert all(r.rows_read > 0 for r in data.reports), "every table of the contract is simulated"


def test_position_type_shares(data) -> None:  # type: ignore[no-untyped-def]
    jenis = data["employees"].merge(data["positions"], on="position_id")["jenis_jabatan"]
    shares = jenis.value_counts(normalize=True)
    assert shares["fungsional"] == pytest.approx(0.51, abs=0.03)
    assert shares["pelaksana"] == pytest.approx(0.38, abs=0.03)
    structural = shares.reindex(
        ["pengawas", "administrator", "jpt_pratama", "jpt_madya", "jpt_utama"]
    ).fillna(0)
    assert structural.sum() == pytest.approx(0.11, abs=0.02)
    assert structural["pengawas"] / structural.sum() == pytest.approx(0.72, abs=0.08)


def test_people_shares(data) -> None:  # type: ignore[no-untyped-def]
    employees = data["employees"]
    assert (employees["status"] == "pppk").mean() == pytest.approx(0.23, abs=0.03)
    assert (employees["gender"] == "p").mean() == pytest.approx(0.53, abs=0.04)
    age = (pd.Timestamp("2025-12-31") - employees["birth_date"]).dt.days / 365.25
    assert ((age >= 51) & (age < 61)).mean() == pytest.approx(0.33, abs=0.05)
    assert age.between(18, 61).all()
    pppk_positions = employees[employees["status"] == "pppk"].merge(data["positions"], on="position_id")[
        "jenis_jabatan"
    ]
    assert set(pppk_positions) <= {"fungsional", "pelaksana"}
    golongan_iii = employees["golongan"].str.startswith("III/").sum() / (employees["status"] == "pns").sum()
    assert golongan_iii > 0.4, "golongan III is the largest PNS group"


def test_nip_encodes_birth_date_tmt_and_sex(data) -> None:  # type: ignore[no-untyped-def]
    pns = data["employees"][data["employees"]["status"] == "pns"]
    assert (pns["nip"].str[:8] == pns["birth_date"].dt.strftime("%Y%m%d")).all()
    assert (pns["nip"].str[8:14] == pns["entry_date"].dt.strftime("%Y%m")).all()
    assert (pns["nip"].str[14] == pns["gender"].map({"l": "1", "p": "2"})).all()


def test_predikat_distribution_and_unit_clustering(data) -> None:  # type: ignore[no-untyped-def]
    skp = data["skp"]
    annual = skp[skp["period"].str.len() == 4]
    shares = annual["predikat"].value_counts(normalize=True)
    assert set(shares.index) == {"sangat_baik", "baik", "butuh_perbaikan", "kurang", "sangat_kurang"}
    assert 0.6 < shares["baik"] < 0.88
    assert 0.04 < shares["sangat_baik"] < 0.2
    assert shares["sangat_kurang"] < 0.05
    # Unit quotas cluster ratings: the spread of the 'above expectation' share between units is wider
    # than binomial noise around one common share would give.
    rows = annual.merge(data["employees"][["nip", "unit_id"]], on="nip")
    rows["atas"] = rows["hasil_kerja"] == "di_atas_ekspektasi"
    by_unit = rows.groupby(["unit_id", "period"])["atas"].agg(["mean", "size"])
    by_unit = by_unit[by_unit["size"] >= 15]
    p = rows["atas"].mean()
    binomial_sd = np.sqrt(p * (1 - p) / by_unit["size"]).mean()
    assert by_unit["mean"].std() > 1.3 * binomial_sd


def test_many_staff_are_never_assessed(data) -> None:  # type: ignore[no-untyped-def]
    never = 1 - data["employees"]["nip"].isin(data["assessments"]["nip"]).mean()
    assert 0.45 < never < 0.65


def test_assessments_track_true_levels_by_method_reliability(world_dir: Path, data) -> None:  # type: ignore[no-untyped-def]
    truth = pd.read_csv(world_dir / "truth" / "true_levels.csv", dtype={"nip": str})
    joined = data["assessments"].merge(truth, on=["nip", "competency_id"])
    error = (joined["level"] - joined["true_level"]).abs().groupby(joined["method"]).mean()
    assert error["assessment_center"] < error["metode_sederhana"] < error["self"]
    assert np.corrcoef(joined["level"], joined["true_level"])[0, 1] > 0.6


def test_catalogue_has_mandatory_programmes_and_hundreds_of_entries(data) -> None:  # type: ignore[no-untyped-def]
    catalog = data["catalog"]
    assert 250 <= len(catalog) <= 600
    mandatory = set(catalog["mandatory_for"].dropna())
    assert mandatory == {"cpns", "new_pengawas", "new_administrator", "new_jpt_pratama", "new_jpt_madya"}
    assert {"klasikal", "e_learning", "coaching", "mentoring", "seminar", "workshop"} <= set(
        catalog["modality"]
    )
    assert 0.85 < catalog["active"].mean() < 1.0


def test_free_text_carries_signal_without_naming_the_competency(world_dir: Path, data) -> None:  # type: ignore[no-untyped-def]
    labels = pd.read_csv(world_dir / "truth" / "text_competency.csv")
    names = data["competencies"].set_index("competency_id")["name"].str.lower()
    indicators = data["indicators"].reset_index(drop=True)
    labelled = labels[labels["table"] == "indicators"]
    texts = indicators["description"].to_numpy()[labelled["row"].to_numpy() - 1]
    named = [names[c] in t.lower() for t, c in zip(texts, labelled["competency_id"], strict=True)]
    assert np.mean(named) < 0.05
    assert indicators["description"].nunique() > 200


def test_outcomes_depend_on_fit() -> None:
    config = SimConfig(employees=3000, seed=5)
    world = build_world(config)
    people = build_people(config, world)
    history = simulate_history(config, world, people)
    training = history.training
    training = training[training["enrolled_on"].dt.year.isin(list(history.start_levels))]
    year = training["enrolled_on"].dt.year.to_numpy()
    emp = training["emp"].to_numpy(dtype=np.int64)
    entry = training["entry"].to_numpy(dtype=np.int64)
    comp = world.targets[entry]
    valid = comp >= 0
    level = np.stack(
        [
            history.start_levels[y][e][np.where(v, c, 0)]
            for y, e, c, v in zip(year, emp, comp, valid, strict=True)
        ]
    )
    match = np.where(valid, dynamics.level_match(level, world.target_levels[entry]), 0).sum(1) / valid.sum(1)
    finished = training["status"].to_numpy() != "enrolled"
    completed = training["status"].to_numpy() == "completed"
    low, high = np.quantile(match[finished], [1 / 3, 2 / 3])
    assert completed[finished & (match >= high)].mean() > completed[finished & (match <= low)].mean() + 0.05
    expected = dynamics.expected_gain(
        level, world.target_levels[entry], valid, world.catalog["effect"].to_numpy()[entry]
    ).sum(1)
    realised = history.gains.groupby(["emp", "entry"])["gain"].sum()
    done = pd.Series(expected, index=pd.MultiIndex.from_arrays([emp, entry])).loc[
        completed & ~pd.Index(list(zip(emp, entry, strict=True))).duplicated()
    ]
    paired = pd.concat([done.rename("expected"), realised.rename("realised")], axis=1, join="inner")
    assert paired["expected"].corr(paired["realised"], method="spearman") > 0.7


def test_benefit_is_highest_one_level_below_target() -> None:
    target = np.full((5, 1), 3.0)
    level = np.array([[0.5], [1.0], [2.0], [2.9], [3.5]])
    gain = dynamics.expected_gain(level, target, np.ones((5, 1), bool), np.ones(5))[:, 0]
    assert gain.argmax() == 2
    assert gain[4] == 0.0 and gain[0] < gain[2] / 3
    value_gap = dynamics.gain_value(np.array([0.8]), np.array([2.0]), np.array([3.0]))
    value_no_gap = dynamics.gain_value(np.array([0.8]), np.array([3.0]), np.array([3.0]))
    assert value_gap[0] == pytest.approx(0.8) and value_no_gap[0] == pytest.approx(0.2)
