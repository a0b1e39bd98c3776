"""What jobs resolve before they run: one as-of rule for every command, and the spec file they read."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest

from rekomendasi.errors import ConfigError
from rekomendasi.jobs.inputs import ConfigFile, as_of_date, evidence_spec, train_config
from rekomendasi.settings import Settings


class _SkpOnly:
    """A stand-in for a loaded dataset holding only the SKP periods."""

    def __init__(self, periods: list[str]) -> None:
        self.skp = pd.DataFrame({"period": pd.Series(periods, dtype="str")})

    def __getitem__(self, name: str) -> pd.DataFrame:
        assert name == "skp"
        return self.skp


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type, call-arg]


def test_as_of_rule_option_then_setting_then_latest_skp_year_then_today() -> None:
    data = _SkpOnly(["2023", "2024-07", "2022-12"])
    given = dt.date(2021, 3, 1)
    assert as_of_date(_settings(as_of=dt.date(2025, 6, 30)), data, given) == given  # type: ignore[arg-type]
    assert as_of_date(_settings(as_of=dt.date(2025, 6, 30)), data) == dt.date(2025, 6, 30)  # type: ignore[arg-type]
    assert as_of_date(_settings(), data) == dt.date(2024, 12, 31)  # type: ignore[arg-type]
    assert as_of_date(_settings(), _SkpOnly([])) == dt.date.today()  # type: ignore[arg-type]
    # A year still in progress is cut at today: evidence of the coming months does not exist yet.
    this_year = _SkpOnly([f"{dt.date.today().year}-01"])
    assert as_of_date(_settings(), this_year) == dt.date.today()  # type: ignore[arg-type]


def test_the_rule_on_a_simulated_world(small_dataset) -> None:  # type: ignore[no-untyped-def]
    latest = int(small_dataset["skp"]["period"].str[:4].astype(int).max())
    assert as_of_date(_settings(), small_dataset) == dt.date(latest, 12, 31)


def test_the_spec_read_is_the_one_settings_name(tmp_path: Path) -> None:
    packaged, packaged_file = evidence_spec(_settings(home=tmp_path))
    assert packaged_file.path.parent.name == "specs" and len(packaged_file.sha256) == 64
    override = tmp_path / "features" / "evidence.yaml"
    override.parent.mkdir()
    override.write_text(packaged_file.path.read_text().replace("version: 1", "version: 7", 1))
    spec, file = evidence_spec(_settings(home=tmp_path))
    assert spec.version == 7 and packaged.version == 1
    assert file == ConfigFile.of(override) and file.sha256 != packaged_file.sha256
    _, config_file = train_config(_settings(home=tmp_path))
    assert config_file.path.name == "train.yaml" and config_file.path.parent.name == "specs"


def test_an_invalid_override_fails_naming_its_file(tmp_path: Path) -> None:
    broken = tmp_path / "mine.yaml"
    broken.write_text("version: 1\nprior: {}\n")
    with pytest.raises(ConfigError, match=re.escape(f"{broken}: invalid evidence spec")):
        evidence_spec(_settings(evidence_spec=broken))
    with pytest.raises(ConfigError, match=r"nowhere\.yaml: training config not found"):
        train_config(_settings(train_config=tmp_path / "nowhere.yaml"))
