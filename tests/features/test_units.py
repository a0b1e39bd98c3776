"""Unit tests of the evidence model on hand-written tables, with pinned numbers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rekomendasi.contract import TABLES, empty_table
from rekomendasi.errors import ConfigError
from rekomendasi.features import EvidenceSpec, load_spec
from rekomendasi.features.asof import period_end
from rekomendasi.features.development import jp_status, mandatory_programmes
from rekomendasi.features.gaps import estimate_gaps

AS_OF = dt.date(2025, 12, 31)
NIP = "198501012010011001"


def _tables(**rows: list[dict]) -> dict[str, pd.DataFrame]:  # type: ignore[type-arg]
    tables = {spec.name: empty_table(spec) for spec in TABLES}
    base = {
        "competencies": [{"competency_id": "tek_a", "group": "teknis", "name": "A", "description": None}],
        "positions": [
            {
                "position_id": "P",
                "title": "Analis",
                "jenis_jabatan": "fungsional",
                "jenjang": "ahli_muda",
                "rumpun": None,
            }
        ],
        "position_standards": [{"position_id": "P", "competency_id": "tek_a", "required_level": 3}],
        "employees": [
            {
                "nip": NIP,
                "instansi_id": "A",
                "unit_id": "U",
                "position_id": "P",
                "status": "pns",
                "golongan": "III/a",
                "gender": "l",
                "birth_date": pd.Timestamp("1985-01-01"),
                "entry_date": pd.Timestamp("2010-01-01"),
                "education": "s1",
                "province": "Aceh",
                "active": True,
            }
        ],
        "catalog": [
            {
                "training_id": "T",
                "title": "Latihan A",
                "description": None,
                "provider": None,
                "modality": "klasikal",
                "jp": 24,
                "cost_idr": 0,
                "eligible_jenis_jabatan": None,
                "mandatory_for": None,
                "province": None,
                "seats": None,
                "language": "id",
                "active": True,
            }
        ],
        "catalog_competencies": [{"training_id": "T", "competency_id": "tek_a", "target_level": 3}],
    }
    for name, records in {**base, **rows}.items():
        frame = pd.DataFrame(records)
        tables[name] = frame.astype(
            {c: tables[name][c].dtype for c in tables[name].columns if c in frame.columns}
        )
    for name in ("skp", "behaviour", "indicators", "public_feedback"):
        tables[name] = tables[name].assign(period_end=period_end(tables[name]["period"]))
    return tables


@pytest.fixture()
def spec(tmp_path: Path) -> EvidenceSpec:
    root = Path(__file__).resolve().parents[2]
    text = (
        (root / "src" / "rekomendasi" / "specs" / "evidence.yaml")
        .read_text()
        .replace("calibrate: true", "calibrate: false")
    )
    path = tmp_path / "evidence.yaml"
    path.write_text(text)
    return load_spec(path)


def _estimate(tables, spec):  # type: ignore[no-untyped-def]
    empty = pd.Series([None] * len(tables["indicators"]), dtype=object)
    empty_fb = pd.Series([None] * len(tables["feedback"]), dtype=object)
    gaps, _ = estimate_gaps(tables, spec, AS_OF, empty, empty_fb)
    return gaps.iloc[0]


def test_no_evidence_is_the_prior(spec: EvidenceSpec) -> None:
    row = _estimate(_tables(), spec)
    assert row["estimated_level"] == pytest.approx(3 + spec.prior.offset)
    assert row["uncertainty"] == pytest.approx(spec.prior.sd)
    assert bool(row["prior_only"])


def test_fresh_assessment_center_result_dominates_the_prior(spec: EvidenceSpec) -> None:
    tables = _tables(
        assessments=[
            {
                "nip": NIP,
                "competency_id": "tek_a",
                "level": 2.0,
                "assessed_on": pd.Timestamp(AS_OF),
                "method": "assessment_center",
            }
        ]
    )
    row = _estimate(tables, spec)
    # precision 1/0.9^2 = 1.2346 (prior, r=-0.3) and 1/0.3^2 = 11.111 (assessment, r=-1.0)
    expected_r = (-0.3 * 1.2346 + -1.0 * 11.1111) / (1.2346 + 11.1111)
    assert row["estimated_level"] == pytest.approx(3 + expected_r, abs=1e-3)
    assert row["uncertainty"] == pytest.approx((1.2346 + 11.1111) ** -0.5, abs=1e-3)
    assert row["n_assessment"] == 1 and row["gap"] == pytest.approx(-expected_r, abs=1e-3)


def test_old_assessment_counts_half_after_one_half_life(spec: EvidenceSpec) -> None:
    old = pd.Timestamp(AS_OF) - pd.Timedelta(days=round(2.0 * 365.25))
    tables = _tables(
        assessments=[
            {
                "nip": NIP,
                "competency_id": "tek_a",
                "level": 2.0,
                "assessed_on": old,
                "method": "assessment_center",
            }
        ]
    )
    row = _estimate(tables, spec)
    assert row["uncertainty"] == pytest.approx((1.2346 + 11.1111 / 2) ** -0.5, abs=2e-3)


def test_self_assessment_is_corrected_for_leniency_and_weighs_less(spec: EvidenceSpec) -> None:
    ac = _estimate(
        _tables(
            assessments=[
                {
                    "nip": NIP,
                    "competency_id": "tek_a",
                    "level": 2.5,
                    "assessed_on": pd.Timestamp(AS_OF),
                    "method": "assessment_center",
                }
            ]
        ),
        spec,
    )
    own = _estimate(
        _tables(
            assessments=[
                {
                    "nip": NIP,
                    "competency_id": "tek_a",
                    "level": 2.5,
                    "assessed_on": pd.Timestamp(AS_OF),
                    "method": "self",
                }
            ]
        ),
        spec,
    )
    assert own["estimated_level"] < 2.5 - 0.0 and own["uncertainty"] > ac["uncertainty"]


def test_completed_training_raises_estimate_until_an_assessment_confirms_it(spec: EvidenceSpec) -> None:
    assessment = {
        "nip": NIP,
        "competency_id": "tek_a",
        "level": 2.0,
        "assessed_on": pd.Timestamp("2025-01-10"),
        "method": "assessment_center",
    }
    course = {
        "nip": NIP,
        "training_id": "T",
        "enrolled_on": pd.Timestamp("2025-03-01"),
        "completed_on": pd.Timestamp("2025-03-20"),
        "status": "completed",
        "score": 80.0,
        "satisfaction": 4,
        "jp_earned": None,
    }
    without = _estimate(_tables(assessments=[assessment]), spec)
    unconfirmed = _estimate(_tables(assessments=[assessment], training_history=[course]), spec)
    assert unconfirmed["estimated_level"] - without["estimated_level"] == pytest.approx(
        spec.trainings.gain * spec.trainings.unconfirmed_discount, abs=1e-3
    )
    confirmed = _estimate(
        _tables(
            assessments=[{**assessment, "assessed_on": pd.Timestamp("2025-06-01")}], training_history=[course]
        ),
        spec,
    )
    alone = _estimate(_tables(assessments=[{**assessment, "assessed_on": pd.Timestamp("2025-06-01")}]), spec)
    assert confirmed["estimated_level"] == pytest.approx(alone["estimated_level"])
    assert unconfirmed["n_training"] == 1


def test_jp_status_counts_this_year_only(spec: EvidenceSpec) -> None:
    course = {
        "nip": NIP,
        "training_id": "T",
        "enrolled_on": pd.Timestamp("2025-03-01"),
        "completed_on": pd.Timestamp("2025-03-20"),
        "status": "completed",
        "score": 80.0,
        "satisfaction": 4,
        "jp_earned": None,
    }
    last_year = {
        **course,
        "enrolled_on": pd.Timestamp("2024-03-01"),
        "completed_on": pd.Timestamp("2024-03-20"),
    }
    log = [{"nip": NIP, "date": pd.Timestamp("2025-05-01"), "activity_type": "seminar", "jp": 4.0}]
    status = jp_status(_tables(training_history=[course, last_year], jp_log=log), spec, AS_OF).iloc[0]
    assert status["jp_training"] == 24.0 and status["jp_other"] == 4.0 and status["jp_total"] == 28.0
    assert status["jp_remaining"] == 0.0 and bool(status["meets_jp_target"])


def test_mandatory_programme_due_for_a_pengawas_without_pkp(spec: EvidenceSpec) -> None:
    tables = _tables(
        positions=[
            {
                "position_id": "P",
                "title": "Kepala Subbagian",
                "jenis_jabatan": "pengawas",
                "jenjang": None,
                "rumpun": None,
            }
        ],
        catalog=[
            {
                "training_id": "PKP",
                "title": "PKP",
                "description": None,
                "provider": "LAN",
                "modality": "blended",
                "jp": 298,
                "cost_idr": 0,
                "eligible_jenis_jabatan": "pengawas",
                "mandatory_for": "new_pengawas",
                "province": None,
                "seats": None,
                "language": "id",
                "active": True,
            }
        ],
        catalog_competencies=[{"training_id": "PKP", "competency_id": "tek_a", "target_level": 2}],
    )
    due = mandatory_programmes(tables, spec, AS_OF)
    assert due[["nip", "training_id", "condition", "due"]].values.tolist() == [
        [NIP, "PKP", "new_pengawas", True]
    ]
    assert due["rule_id"].iloc[0] == "PKP bagi pejabat pengawas"


def test_invalid_spec_names_file_and_field(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    path = tmp_path / "evidence.yaml"
    path.write_text(
        (root / "src" / "rekomendasi" / "specs" / "evidence.yaml").read_text().replace("sd: 0.9", "sd: -1")
    )
    with pytest.raises(ConfigError, match=r"evidence\.yaml: invalid evidence spec: prior\.sd"):
        load_spec(path)
    assert np.isfinite(1.0)
