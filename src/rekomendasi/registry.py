"""The model registry: MLflow tracking and registered models addressed by alias (the only run-time
mlflow import). Every trained ranker is a version of ``rekomendasi-ranker``; serving loads ``@champion``."""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from rekomendasi.errors import ModelNotReady, RekomendasiError
from rekomendasi.runowner import (
    FAILED_TAG,
    FOREIGN_RUN_TIMEOUT,
    STALE_TAG,
    RunOwner,
    StaleRun,
    TrainingInterrupted,
    signals_interrupt,
)

if TYPE_CHECKING:
    from rekomendasi.settings import Settings

logger = logging.getLogger(__name__)
MODEL_NAME = "rekomendasi-ranker"
EXPERIMENT = "rekomendasi-ranker"
NATIVE_ARTIFACT = "ranker_native"
"""Run artifact holding the ranker as its ``save`` writes it (``ranker.json``, LightGBM boosters), what
jobs and servers load."""
# The types a logged ranker is made of; MLflow's skops serialisation loads only types declared trusted.
TRUSTED_TYPES = [
    "collections.OrderedDict",
    "lightgbm.basic.Booster",
    "rekomendasi.ranking.ranker.LambdaRanker",
    "rekomendasi.ranking.gain.GainRanker",
    "rekomendasi.ranking.effect.LinearEffect",
]

MODEL_REQUIREMENTS = ("lightgbm", "scikit-learn", "numpy", "pandas", "scipy", "skops", "mlflow")
"""The packages a logged ranker needs besides ``rekomendasi`` itself, pinned to the installed versions
(:func:`model_requirements`): MLflow's own inference imports the model in a subprocess, 20-30 s of
every training run."""


def model_requirements() -> list[str]:
    """``name==version`` of each of :data:`MODEL_REQUIREMENTS` that is installed."""
    from importlib.metadata import PackageNotFoundError, version

    pinned = []
    for name in MODEL_REQUIREMENTS:
        try:
            pinned.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue
    return pinned


# Run tags naming the process that trains (see RunOwner) and why a run was failed or flagged.


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One registered version and what it was measured at.

    Attributes:
        run_status: the MLflow status of the run that logged it (``FINISHED``, ``RUNNING``, ``FAILED``,
            ``KILLED``), or ``""`` when the run is gone.
    """

    version: str
    run_id: str
    aliases: tuple[str, ...]
    metrics: dict[str, float]
    tags: dict[str, str]
    run_status: str = ""


def registry_from_settings(settings: Settings) -> MlflowRegistry:
    """The registry the settings name. A local sqlite store keeps its artifacts beside its database
    (``mlflow/artifacts`` for the default), so a scratch store never writes into the real one."""
    return MlflowRegistry(*_store_location(settings))


def _store_location(settings: Settings) -> tuple[str, Path | None]:
    """The settings' tracking URI (a relative sqlite path resolved against ``home``) and, for a local
    sqlite store, the artifact folder beside its database."""
    uri = settings.mlflow_uri
    if uri.startswith("sqlite:///"):
        database = Path(uri.removeprefix("sqlite:///"))
        if not database.is_absolute():
            database = settings.resolve(database)
            uri = f"sqlite:///{database}"
        return uri, database.parent / "artifacts"
    return uri, None


def log_analysis_run(
    settings: Settings,
    experiment: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    tags: dict[str, str],
    artifacts: dict[str, Path],
    run_name: str | None = None,
) -> str:
    """Log one run without a model (an analysis such as course effectiveness) into ``experiment`` of the
    settings' tracking store, created when missing; returns the run's id. Folders in ``artifacts`` are
    logged as their files under the name; NaN metrics are left out. A failure ends the run FAILED."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunStatus

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri, artifact_root = _store_location(settings)
    with _store_setup_lock(uri):
        client = MlflowClient(tracking_uri=uri)
        found = client.get_experiment_by_name(experiment)
        if found is not None:
            experiment_id = found.experiment_id
        else:
            location = artifact_root.resolve().as_uri() if artifact_root is not None else None
            experiment_id = client.create_experiment(experiment, artifact_location=location)
    run_id = client.create_run(experiment_id, tags=tags, run_name=run_name).info.run_id
    try:
        now = int(_utc_now().timestamp() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items() if math.isfinite(v)],
            params=[Param(k, str(v)) for k, v in params.items()],
        )
        for name, path in artifacts.items():
            if path.is_dir():
                client.log_artifacts(run_id, str(path), artifact_path=name)
            else:
                client.log_artifact(run_id, str(path), artifact_path=name)
    except BaseException as err:
        client.set_tag(run_id, FAILED_TAG, f"{type(err).__name__}: {err}"[:400])
        client.set_terminated(run_id, status=RunStatus.to_string(RunStatus.FAILED))
        raise
    client.set_terminated(run_id)
    return run_id


def _store_setup_lock(tracking_uri: str) -> AbstractContextManager[object]:
    """Held while a process opens a local sqlite store, creating its tables and the experiment if missing.

    MLflow creates and migrates the tables of a new sqlite file on first open without any lock of its
    own: two processes opening a fresh store together (``train`` beside ``models``, the workers of
    ``serve``) fail with "table ... already exists". A lock file beside the database serialises that
    first open; a server store needs none.
    """
    if not tracking_uri.startswith("sqlite:///"):
        return nullcontext()
    from filelock import FileLock

    database = Path(tracking_uri.removeprefix("sqlite:///"))
    database.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(database) + ".lock", timeout=600)


class ModelRegistry(Protocol):
    """What training and serving need from a registry."""

    def log_run(
        self,
        params: dict[str, Any],
        metrics: dict[str, float],
        tags: dict[str, str],
        artifacts: dict[str, Path],
        model: Any,
        example: pd.DataFrame,
    ) -> ModelVersion: ...
    def log_to_run(
        self, run_id: str, metrics: dict[str, float], tags: dict[str, str], artifacts: dict[str, Path]
    ) -> None: ...
    def training_run(self) -> AbstractContextManager[str]: ...
    def end_interrupted_runs(self) -> list[StaleRun]: ...
    def load(self, alias: str) -> Any: ...
    def load_version(self, version: str) -> Any: ...
    def alias_version(self, alias: str) -> ModelVersion | None: ...
    def set_alias(self, alias: str, version: str) -> None: ...
    def versions(self) -> list[ModelVersion]: ...


class MlflowRegistry:
    """MLflow tracking + model registry at ``tracking_uri`` (a local sqlite file or a server URL).

    Args:
        tracking_uri: e.g. ``sqlite:///mlflow/mlflow.db`` (the default) or ``http://127.0.0.1:5000``.
        artifact_root: where a local store keeps artifacts (ignored for a server, which has its own).
    """

    def __init__(self, tracking_uri: str, artifact_root: Path | None = None) -> None:
        import mlflow
        from mlflow import MlflowClient

        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        self._mlflow = mlflow
        self.tracking_uri = tracking_uri
        mlflow.set_tracking_uri(tracking_uri)
        with _store_setup_lock(tracking_uri):
            self.client = MlflowClient(tracking_uri=tracking_uri)
            experiment = self.client.get_experiment_by_name(EXPERIMENT)
            if experiment is None:
                location = (
                    artifact_root.resolve().as_uri()
                    if artifact_root is not None and not tracking_uri.startswith("http")
                    else None
                )
                self.experiment_id = self.client.create_experiment(EXPERIMENT, artifact_location=location)
            else:
                self.experiment_id = experiment.experiment_id

    @contextmanager
    def training_run(self) -> Iterator[str]:
        """Open the MLflow run of one training job and yield its id; ``log_run`` inside logs into it.

        The run records its owner (:class:`RunOwner`), so a later ``end_interrupted_runs`` can end it
        FAILED if this process dies without ending it (kill -9, power loss). An exception ends it FAILED
        with the reason in the ``rekomendasi.failed`` tag; SIGTERM and SIGHUP (in the main thread, unless
        ignored) raise :class:`TrainingInterrupted` like SIGINT does, so they end it FAILED too.
        """
        mlflow = self._mlflow
        with (
            signals_interrupt(),
            mlflow.start_run(experiment_id=self.experiment_id, tags=RunOwner.current().tags()) as run,
        ):
            try:
                yield run.info.run_id
            except BaseException as err:
                when = _utc_now().isoformat(timespec="seconds")
                reason = str(err) if isinstance(err, TrainingInterrupted) else f"{type(err).__name__}: {err}"
                try:
                    self.client.set_tag(run.info.run_id, FAILED_TAG, f"{reason[:400]} (at {when})")
                except Exception:  # the run still ends FAILED; the error that matters is re-raised below
                    logger.warning("could not tag run %s with why it failed", run.info.run_id, exc_info=True)
                raise

    def end_interrupted_runs(self, foreign_timeout: dt.timedelta = FOREIGN_RUN_TIMEOUT) -> list[StaleRun]:
        """End FAILED every RUNNING run of the experiment whose owner process on this host is gone, and
        flag (tag, leave RUNNING) those older than ``foreign_timeout`` whose owner cannot be checked from
        here (another host, or a run that recorded no owner).

        Returns:
            What was done to which run, oldest first (empty when nothing was RUNNING or all owners live).
        """
        from mlflow.entities import RunStatus, ViewType

        running = self.client.search_runs(
            [self.experiment_id],
            filter_string="attributes.status = 'RUNNING'",
            run_view_type=ViewType.ACTIVE_ONLY,
            order_by=["attributes.start_time ASC"],
        )
        now = _utc_now()
        here = RunOwner.current()
        found: list[StaleRun] = []
        for run in running:
            run_id = run.info.run_id
            owner = RunOwner.from_tags(dict(run.data.tags))
            gone = owner.is_gone() if owner is not None else None
            if owner is not None and gone:
                reason = (
                    f"interrupted: its process ({owner}) is gone; found at "
                    f"{now.isoformat(timespec='seconds')} by {here}"
                )
                self.client.set_tag(run_id, FAILED_TAG, reason)
                self.client.set_terminated(run_id, status=RunStatus.to_string(RunStatus.FAILED))
                logger.info("run %s ended FAILED: %s", run_id, reason)
                found.append(StaleRun(run_id, "failed", reason))
                continue
            started = dt.datetime.fromtimestamp(run.info.start_time / 1000, tz=dt.UTC)
            if gone is None and now - started > foreign_timeout:
                hours = (now - started).total_seconds() / 3600
                who = f"its process ({owner}) cannot be checked from here" if owner else "it names no owner"
                reason = (
                    f"RUNNING for {hours:.0f} h and {who}: interrupted? Left RUNNING; end it in MLflow "
                    f"if it is dead (flagged at {now.isoformat(timespec='seconds')} by {here})"
                )
                if STALE_TAG not in run.data.tags:
                    self.client.set_tag(run_id, STALE_TAG, reason)
                found.append(StaleRun(run_id, "flagged", reason))
        return found

    def log_run(
        self,
        params: dict[str, Any],
        metrics: dict[str, float],
        tags: dict[str, str],
        artifacts: dict[str, Path],
        model: Any,
        example: pd.DataFrame,
    ) -> ModelVersion:
        """Log one training run and register its model as a new version of ``rekomendasi-ranker``: into
        the run of the enclosing ``training_run``, else into a run of its own."""
        import mlflow.sklearn
        from mlflow.models import infer_signature

        mlflow = self._mlflow
        active = mlflow.active_run()
        opened: AbstractContextManager[Any] = (
            nullcontext(active)
            if active is not None and active.info.experiment_id == self.experiment_id
            else mlflow.start_run(experiment_id=self.experiment_id)
        )
        with opened as run:
            mlflow.log_params(params)
            mlflow.log_metrics({k: v for k, v in metrics.items() if math.isfinite(v)})  # NaN is not a metric
            mlflow.set_tags(tags)
            for name, path in artifacts.items():
                if path.is_dir():  # its files, not a folder named after a temporary directory
                    mlflow.log_artifacts(str(path), artifact_path=name)
                else:
                    mlflow.log_artifact(str(path), artifact_path=name)
            signature = infer_signature(example, model.predict(example))
            info = mlflow.sklearn.log_model(
                model,
                name="ranker",
                signature=signature,
                input_example=example.head(3),
                registered_model_name=MODEL_NAME,
                skops_trusted_types=TRUSTED_TYPES,
                pip_requirements=model_requirements(),
            )
        version = str(info.registered_model_version)
        self.client.set_model_version_tag(MODEL_NAME, version, "run_id", run.info.run_id)
        return self._version(version)

    def log_to_run(
        self, run_id: str, metrics: dict[str, float], tags: dict[str, str], artifacts: dict[str, Path]
    ) -> None:
        """Add metrics, tags and artifacts (folders or files) to the existing run ``run_id``, e.g. a
        version's training run after it ended (the tuned sentence model beside the ranker)."""
        for name, value in metrics.items():
            if math.isfinite(value):  # NaN is not a metric
                self.client.log_metric(run_id, name, value)
        for name, text in tags.items():
            self.client.set_tag(run_id, name, text)
        for name, path in artifacts.items():
            if path.is_dir():  # its files, not a folder named after a temporary directory
                self.client.log_artifacts(run_id, str(path), artifact_path=name)
            else:
                self.client.log_artifact(run_id, str(path), artifact_path=name)

    def load(self, alias: str) -> Any:
        """The model registered under ``alias``.

        Raises:
            ModelNotReady: no version has that alias.
        """
        found = self.alias_version(alias)
        if found is None:
            raise ModelNotReady(
                f"no model has the alias '{alias}' in {self.tracking_uri}; run `rekomendasi train` first."
            )
        return self.load_version(found.version)

    def load_version(self, version: str) -> Any:
        """The model of registered ``version`` (a job that read ``alias_version`` first loads exactly the
        version it read, even if the alias moves meanwhile).

        From the run's :data:`NATIVE_ARTIFACT` (LightGBM's own format) when it has one: that needs
        LightGBM only, where the scikit-learn flavour's deserialiser imports every scikit-learn
        estimator (and through them torch, about 200 MB a server worker does not need). Runs logged
        before it existed load through the scikit-learn flavour.
        """
        import mlflow.artifacts
        import mlflow.sklearn
        from mlflow.exceptions import MlflowException

        run_id = self._version(version).run_id
        if run_id:
            try:
                local = mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path=NATIVE_ARTIFACT, tracking_uri=self.tracking_uri
                )
            except (MlflowException, OSError):
                local = None
            if local is not None and (Path(local) / "ranker.json").exists():
                from rekomendasi.ranking.gain import load_ranker

                return load_ranker(Path(local))
        return mlflow.sklearn.load_model(f"models:/{MODEL_NAME}/{version}")

    def alias_version(self, alias: str) -> ModelVersion | None:
        """The version holding ``alias``, or None."""
        from mlflow.exceptions import MlflowException

        try:
            found = self.client.get_model_version_by_alias(MODEL_NAME, alias)
        except MlflowException:
            return None
        return self._version(str(found.version))

    def set_alias(self, alias: str, version: str) -> None:
        """Point ``alias`` at ``version``.

        Raises:
            RekomendasiError: the version does not exist (with the versions that do).
        """
        known = [v.version for v in self.versions()]
        if version not in known:
            raise RekomendasiError(
                f"{MODEL_NAME} has no version {version}; versions: {', '.join(known) or 'none'}."
            )
        self.client.set_registered_model_alias(MODEL_NAME, alias, version)

    def versions(self) -> list[ModelVersion]:
        """Every registered version, newest first."""
        from mlflow.exceptions import MlflowException

        try:
            found = self.client.search_model_versions(f"name='{MODEL_NAME}'")
        except MlflowException:
            return []
        return sorted((self._version(str(v.version)) for v in found), key=lambda v: -int(v.version))

    def _version(self, version: str) -> ModelVersion:
        found = self.client.get_model_version(MODEL_NAME, version)
        run = self.client.get_run(found.run_id) if found.run_id else None
        return ModelVersion(
            version=version,
            run_id=found.run_id or "",
            aliases=tuple(sorted(found.aliases or [])),
            metrics=dict(run.data.metrics) if run else {},
            tags=dict(run.data.tags) if run else {},
            run_status=str(run.info.status) if run else "",
        )


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
