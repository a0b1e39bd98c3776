"""What every job resolves from :class:`~rekomendasi.settings.Settings` before it runs: the data, the
spec and config files (and which files they were), the as-of date and the text encoder."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rekomendasi.contract import Dataset, load_dataset
from rekomendasi.contract.byagency import latest_skp_year
from rekomendasi.features import EvidenceSpec, load_spec
from rekomendasi.ranking.train import TrainConfig, load_train_config
from rekomendasi.settings import Settings
from rekomendasi.text import TextEncoder

Stage = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """A YAML file a job read: where it was and the SHA-256 of its bytes, so every run says what it used."""

    path: Path
    sha256: str

    @classmethod
    def of(cls, path: Path) -> ConfigFile:
        """The file at ``path`` (absolute) with the hash of its current bytes."""
        return cls(path.resolve(), hashlib.sha256(path.read_bytes()).hexdigest())


def evidence_spec(settings: Settings) -> tuple[EvidenceSpec, ConfigFile]:
    """The evidence spec of :meth:`Settings.evidence_spec_path`, validated, and the file it came from.

    Raises:
        ConfigError: the file is missing, not YAML, or invalid (the message names the file and field).
    """
    path = settings.evidence_spec_path()
    spec = load_spec(path)
    return spec, ConfigFile.of(path)


def train_config(settings: Settings) -> tuple[TrainConfig, ConfigFile]:
    """The training config of :meth:`Settings.train_config_path`, validated, and the file it came from.

    Raises:
        ConfigError: the file is missing or invalid (the message names the file and field).
    """
    path = settings.train_config_path()
    config = load_train_config(path)
    return config, ConfigFile.of(path)


def data_dir(settings: Settings, data: Path | None) -> Path:
    """The data directory a job reads: ``data`` when given, else ``REKOMENDASI_DATA_DIR``."""
    return data if data is not None else settings.resolve(settings.data_dir)


def load_data(settings: Settings, data: Path) -> Dataset:
    """Every table of ``data``, validated; fails when a table quarantines more than the settings allow.

    Raises:
        DataContractError: a file-level problem, or too many quarantined rows.
    """
    return load_dataset(data, max_quarantine_share=settings.max_quarantine_share)


def as_of_date(settings: Settings, dataset: Dataset, given: dt.date | None = None) -> dt.date:
    """The as-of date of every job, by one rule: ``given`` (the ``--as-of`` option), else
    ``REKOMENDASI_AS_OF``, else 31 December of the latest SKP year in the data, but never after today
    (a year still in progress is cut at today), else today."""
    return as_of_rule(settings, latest_skp_year(dataset["skp"]), given)


def as_of_rule(settings: Settings, latest_year: int | None, given: dt.date | None = None) -> dt.date:
    """:func:`as_of_date` from the latest SKP year of the data (None without SKP)."""
    if given is not None:
        return given
    if settings.as_of is not None:
        return settings.as_of
    today = dt.date.today()
    if latest_year is not None:
        return min(dt.date(latest_year, 12, 31), today)
    return today


def text_encoder(settings: Settings, embeddings: bool | None = None) -> TextEncoder | None:
    """The sentence encoder the option (else ``REKOMENDASI_TEXT_EMBEDDINGS``) asks for, or None for the
    lexical text model alone."""
    use = settings.text_embeddings if embeddings is None else embeddings
    if not use:
        return None
    return TextEncoder(settings.text_model_path, settings.resolve(settings.cache_dir) / "embeddings")


def text_model_name(encoder: TextEncoder | None) -> str:
    """The name a run records for its text model."""
    return encoder.model_name if encoder is not None else "none (lexical only)"


@dataclass(frozen=True)
class TrainingInputs:
    """What ``train`` and ``evaluate`` start from."""

    data_dir: Path
    dataset: Dataset
    spec: EvidenceSpec
    spec_file: ConfigFile
    config: TrainConfig
    config_file: ConfigFile
    as_of: dt.date


def training_inputs(
    settings: Settings, data: Path | None, as_of: dt.date | None, progress: Stage | None = None
) -> TrainingInputs:
    """Load the data, the evidence spec and the training config, and settle the as-of date.

    Args:
        data: the data directory (default ``REKOMENDASI_DATA_DIR``).
        as_of: the ``--as-of`` option, or None for the rule of :func:`as_of_date`.
        progress: called with "load data" before loading.
    """
    spec, spec_file = evidence_spec(settings)  # before the data: a bad override fails at once
    config, config_file = train_config(settings)
    directory = data_dir(settings, data)
    if progress is not None:
        progress("load data")
    dataset = load_data(settings, directory)
    return TrainingInputs(
        directory, dataset, spec, spec_file, config, config_file, as_of_date(settings, dataset, as_of)
    )
