"""Settings come from the environment with the REKOMENDASI_ prefix and validate their values."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from rekomendasi.settings import Settings


def test_defaults() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.max_quarantine_share == 0.05
    assert settings.mlflow_uri.startswith("sqlite:///mlflow/")


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REKOMENDASI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REKOMENDASI_MAX_QUARANTINE_SHARE", "0.2")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.data_dir == tmp_path and settings.max_quarantine_share == 0.2
    assert settings.resolve(Path("x")) == Path("x") and settings.resolve(tmp_path) == tmp_path


def test_invalid_share_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REKOMENDASI_MAX_QUARANTINE_SHARE", "1.5")
    with pytest.raises(ValidationError, match="max_quarantine_share"):
        Settings(_env_file=None)  # type: ignore[call-arg]
