"""One Settings object for paths and options, read from the environment (prefix ``REKOMENDASI_``).

Build it with :func:`get_settings`; importing this module has no side effects.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Paths and options of every job. Each field can be set as ``REKOMENDASI_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="REKOMENDASI_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path("."), description="Project root; relative paths below resolve from here.")
    data_dir: Path = Field(default=Path("data/demo"), description="Data directory (data-contract.md).")
    max_quarantine_share: float = Field(
        default=0.05, ge=0.0, le=1.0, description="Largest share of a table's rows that may be quarantined."
    )
    features_dir: Path = Field(
        default=Path("features"),
        description="Overrides of the reviewed feature specs: a file here replaces the packaged one.",
    )
    training_dir: Path = Field(
        default=Path("training"),
        description="Overrides of the job configs: a file here replaces the packaged one.",
    )
    evidence_spec: Path | None = Field(
        default=None, description="The evidence spec file to use (default: see evidence_spec_path)."
    )
    train_config: Path | None = Field(
        default=None, description="The training config file to use (default: see train_config_path)."
    )
    as_of: dt.date | None = Field(
        default=None,
        description="As-of date of every job without --as-of (unset: 31 December of the latest SKP year).",
    )
    mlflow_uri: str = Field(
        default="sqlite:///mlflow/mlflow.db", description="MLflow tracking URI; a server URL works too."
    )
    state_db_url: str = Field(
        default="sqlite:///var/state.db", description="Service state (API keys, feedback, audit log)."
    )
    text_model_path: str | None = Field(
        default=None,
        description="sentence-transformers model directory; default: the bundled all-MiniLM-L6-v2.",
    )
    snapshot_dir: Path = Field(
        default=Path("var/snapshot"), description="Where `features` writes the snapshot."
    )
    scores_dir: Path = Field(
        default=Path("var/scores"),
        description="Root of the scores stores (`rekomendasi score` writes one per snapshot and model).",
    )
    scores_top_n: int = Field(
        default=50, ge=1, le=500, description="Ranked entries the scores store keeps per employee."
    )
    cache_dir: Path = Field(
        default=Path("var/cache"), description="Caches (text embeddings by content hash)."
    )
    text_embeddings: bool = Field(
        default=True, description="Use the sentence-transformers model beside the lexical text model."
    )
    text_tune: bool = Field(
        default=False,
        description="`train` also fine-tunes the sentence model on the labelled text and logs it to its "
        "MLflow run (a few minutes on two cores; `rekomendasi text tune` does it alone).",
    )
    nip_salt: SecretStr = Field(
        default=SecretStr("rekomendasi"),  # serving.auth.DEFAULT_NIP_SALT: the server warns while it is this
        description="Secret key of the NIP hashes in logs and the audit log; set your own in production.",
    )
    api_host: str = Field(default="127.0.0.1", description="Where `rekomendasi serve` listens.")
    api_port: int = Field(default=8000, ge=1, le=65535, description="Port of `rekomendasi serve`.")
    api_workers: int = Field(default=1, ge=1, description="Server processes (each holds the snapshot).")
    audit_key: SecretStr | None = Field(
        default=None,
        description="Secret key of the audit log's hash chain (HMAC-SHA256); unset: derived from nip_salt. "
        "Whoever holds it could rebuild a tampered chain, so keep it apart from database access.",
    )
    audit_archive_dir: Path = Field(
        default=Path("var/audit-archive"),
        description="Where `rekomendasi audit archive` writes old audit rows as Parquet.",
    )
    key_cache_seconds: float = Field(
        default=4.0,
        ge=0.0,
        le=5.0,
        description="How long a worker trusts a key lookup; a revocation reaches every worker within it.",
    )
    rate_limit_admin: float = Field(
        default=1000.0,
        ge=0.0,
        description="Requests per second one admin key may make to one worker (0: none).",
    )
    rate_limit_planner: float = Field(
        default=100.0,
        ge=0.0,
        description="Requests per second one planner key may make to one worker (0: none).",
    )
    rate_limit_platform: float = Field(
        default=300.0,
        ge=0.0,
        description="Requests per second one platform key may make to one worker (0: none).",
    )
    rate_burst_seconds: float = Field(
        default=2.0, gt=0.0, description="A key may burst to this many seconds' worth of its rate at once."
    )
    max_body_bytes: int = Field(
        default=1_000_000, ge=1_000, description="Largest request body, counted on the bytes received (413)."
    )
    max_answer_recommendations: int = Field(
        default=5000,
        ge=50,
        description="Largest answer, employees x k of one request (bulk: 413; agency pages: fewer people).",
    )
    work_threads: int = Field(
        default=2,
        ge=1,
        description="Requests one worker ranks and serialises at once, off the event loop (the rest queue).",
    )
    ui_session_hours: float = Field(
        default=8.0,
        gt=0.0,
        le=24.0 * 30,
        description="How long a sign-in to the planner's web page (/ui) lasts before it asks for the key "
        "again.",
    )
    ui_secure_cookie: bool = Field(
        default=False,
        description="Mark the web page's cookies Secure (sent over HTTPS only): set it wherever the "
        "service is reached through HTTPS; off by default so the page works on http://localhost.",
    )
    embed_token_minutes: float = Field(
        default=10.0,
        gt=0.0,
        le=60.0,
        description="How long a widget token (POST /v1/embed/tokens) lasts; the platform asks for a new one "
        "for each page it shows.",
    )
    xapi_home_page: str = Field(
        default="https://siasn.bkn.go.id",
        description="homePage of the actor accounts in exported xAPI statements: the system whose account "
        "names are the NIPs (SIASN).",
    )
    dask: str | None = Field(
        default=None,
        description="Where features, score and batch run their agencies without --dask: unset (in this "
        "process), local:N (a LocalCluster of N worker processes) or tcp://HOST:PORT (a running scheduler).",
    )
    dask_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Further attempts of an agency's partition that failed on a cluster.",
    )
    bulk_max_nips: int = Field(default=500, ge=1, description="Largest NIP list of one bulk request (413).")
    demo_employees: int = Field(default=2000, gt=0, description="Size of the demo world `make run` builds.")
    demo_seed: int = Field(default=42, description="Seed of the demo world.")

    def resolve(self, path: Path) -> Path:
        """Return ``path`` resolved against :attr:`home` when it is relative."""
        return path if path.is_absolute() else (self.home / path)

    def evidence_spec_path(self) -> Path:
        """The evidence spec every job reads: :attr:`evidence_spec` when set, else
        ``<features_dir>/evidence.yaml`` when that file exists, else the reviewed one in the package."""
        return self._config_file(self.evidence_spec, self.features_dir, "evidence.yaml")

    def train_config_path(self) -> Path:
        """The training config every job reads: :attr:`train_config` when set, else
        ``<training_dir>/train.yaml`` when that file exists, else the reviewed one in the package."""
        return self._config_file(self.train_config, self.training_dir, "train.yaml")

    def _config_file(self, explicit: Path | None, folder: Path, name: str) -> Path:
        if explicit is not None:
            return self.resolve(explicit)
        local = self.resolve(folder) / name
        if local.is_file():
            return local
        return Path(str(resources.files("rekomendasi").joinpath("specs", name)))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once from the environment."""
    return Settings()
