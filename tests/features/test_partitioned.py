"""The snapshot built agency by agency (#14): the same tables whether the data is one agency or many,
whether the agencies run in this process or on Dask workers, and whether the sentence model is used."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
from typer.testing import CliRunner

from rekomendasi.cli import app
from rekomendasi.cluster import PartitionFailed, Runner
from rekomendasi.contract import Dataset
from rekomendasi.features import TABLES, EvidenceSpec, Snapshot, build_snapshot
from rekomendasi.features import snapshot as building
from rekomendasi.features.partition import AgencyFeatures, FeatureContext
from rekomendasi.features.textmap import TextModel
from rekomendasi.settings import get_settings
from tests.features.conftest import AS_OF

ORPHAN = "999999999999999999"  # a NIP no agency employs
SILENT, LATE = "agency-0", "agency-1"


def _many_agencies(dataset: Dataset) -> Dataset:
    """The small world cut into six agencies, with the awkward cases a partitioned build must not notice:
    an agency without SKP and indicators (SILENT), an agency whose staff all join after the as-of date
    (LATE; their earlier rows stay), an agency of one, inactive staff, and text rows of a NIP nobody
    employs."""
    employees = dataset["employees"].copy()
    code = employees["nip"].map(lambda nip: int(hashlib.sha256(nip.encode()).hexdigest(), 16) % 5)
    employees["instansi_id"] = "agency-" + code.astype(str)
    employees.loc[employees.index[0], "instansi_id"] = "solo"
    employees.loc[employees.index[1::3], "active"] = False
    late = employees["instansi_id"] == LATE
    employees.loc[late, "entry_date"] = pd.Timestamp(AS_OF) + pd.Timedelta(days=9)
    silent = set(employees.loc[employees["instansi_id"] == SILENT, "nip"])
    orphans = dataset["daily_reports"].head(30).assign(nip=ORPHAN)
    untagged = dataset["feedback"].head(10).assign(nip=ORPHAN, competency_id=None)
    tables = {
        **dataset.tables,
        "employees": employees,
        "skp": dataset["skp"][~dataset["skp"]["nip"].isin(silent)],
        "indicators": dataset["indicators"][~dataset["indicators"]["nip"].isin(silent)],
        "daily_reports": pd.concat([dataset["daily_reports"], orphans], ignore_index=True),
        "feedback": pd.concat([dataset["feedback"], untagged], ignore_index=True),
    }
    return dataclasses.replace(dataset, tables=tables)


def _one_agency(dataset: Dataset) -> Dataset:
    employees = dataset["employees"].assign(instansi_id="semua")
    return dataclasses.replace(dataset, tables={**dataset.tables, "employees": employees})


@pytest.fixture(scope="module")
def many(small_dataset: Dataset) -> Dataset:
    return _many_agencies(small_dataset)


def _assert_same(a: Snapshot, b: Snapshot, *, but: tuple[str, ...] = ()) -> None:
    for name in TABLES:
        left, right = a.table(name), b.table(name)
        if name == "roster":
            left, right = left.drop(columns=list(but)), right.drop(columns=list(but))
        pdt.assert_frame_equal(left, right, check_exact=True, obj=name)


def test_one_agency_or_many_give_the_same_snapshot(many: Dataset, spec: EvidenceSpec) -> None:
    parts: list[tuple[int, int]] = []
    cut = build_snapshot(
        many, AS_OF, spec, encoder=None, agencies=lambda done, total: parts.append((done, total))
    )
    whole = build_snapshot(_one_agency(many), AS_OF, spec, encoder=None)
    assert parts[-1] == (6, 6) and len(parts) == 6  # the one-agency build has a single part
    _assert_same(cut, whole, but=("instansi_id",))
    assert set(cut.roster["instansi_id"]) == {"agency-0", "agency-2", "agency-3", "agency-4", "solo"}
    assert ORPHAN in set(cut.text_profile["nip"]) and ORPHAN not in set(cut.roster["nip"])
    silent = cut.roster["instansi_id"].eq(SILENT).to_numpy()
    assert silent.any() and cut.performance.loc[silent, "predikat_latest"].isna().all()
    fingerprint = "data_fingerprint"  # of the data, where the agencies differ
    assert {k: v for k, v in cut.manifest.items() if k != fingerprint} == {
        k: v for k, v in whole.manifest.items() if k != fingerprint
    }


def test_on_two_workers_the_snapshot_is_the_same(
    many: Dataset, spec: EvidenceSpec, two_workers: Runner
) -> None:
    here = build_snapshot(many, AS_OF, spec, encoder=None)
    there = build_snapshot(many, AS_OF, spec, encoder=None, runner=two_workers)
    _assert_same(here, there)
    assert here.manifest == there.manifest


def test_a_failing_agency_is_named(
    many: Dataset, spec: EvidenceSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    features = building.agency_features

    def broken(part: dict[str, pd.DataFrame], context: FeatureContext) -> AgencyFeatures:
        if (part["employees"]["instansi_id"] == "solo").any():
            raise ZeroDivisionError("division by zero")
        return features(part, context)

    monkeypatch.setattr(building, "agency_features", broken)
    with pytest.raises(PartitionFailed, match=r"agency solo\b.*ZeroDivisionError"):
        build_snapshot(many, AS_OF, spec, encoder=None)


class _BatchSensitiveEncoder:
    """A stand-in sentence encoder whose vectors, like a real one's, move in their last bits with the
    batch they are embedded in."""

    model_name = "batch-sensitive"

    def __init__(self) -> None:
        self.batches: list[int] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.batches.append(len(texts))
        seeds = [int(hashlib.sha256(t.encode()).hexdigest()[:8], 16) for t in texts]
        vectors = np.stack([np.random.default_rng(s).normal(size=16) for s in seeds]).astype(np.float32)
        return vectors + np.float32(1e-6 * len(texts))


def test_texts_are_embedded_once_whatever_the_agencies(
    many: Dataset, spec: EvidenceSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    fit = building.fit_text_model

    def half_lexical(*args: object) -> TextModel:  # the sentence model in the combination
        return dataclasses.replace(fit(*args), lexical_weight=0.5)  # type: ignore[arg-type]

    monkeypatch.setattr(building, "fit_text_model", half_lexical)
    encoders = [_BatchSensitiveEncoder(), _BatchSensitiveEncoder()]
    cut = build_snapshot(many, AS_OF, spec, encoder=encoders[0])  # type: ignore[arg-type]
    whole = build_snapshot(_one_agency(many), AS_OF, spec, encoder=encoders[1])  # type: ignore[arg-type]
    _assert_same(cut, whole, but=("instansi_id",))
    assert encoders[0].batches == encoders[1].batches and len(encoders[0].batches) > 1
    # The sentence model changed the text profile: it was used, not skipped.
    monkeypatch.undo()
    lexical = build_snapshot(many, AS_OF, spec, encoder=None)
    assert not cut.text_profile.equals(lexical.text_profile)


def test_features_on_a_cluster_writes_the_same_files(
    small_world: Path, two_workers: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    address = two_workers.client.scheduler_info()["address"]  # type: ignore[attr-defined]
    monkeypatch.setenv("REKOMENDASI_CACHE_DIR", str(tmp_path / "cache"))
    written = {}
    try:
        for where, extra in (("here", []), ("there", ["--dask", address]), ("by setting", [])):
            if where == "by setting":
                monkeypatch.setenv("REKOMENDASI_DASK", address)
            get_settings.cache_clear()
            out = tmp_path / where
            options = [
                "--data",
                str(small_world),
                "--as-of",
                str(AS_OF),
                "--out",
                str(out),
                "--no-embeddings",
            ]
            result = CliRunner().invoke(app, ["features", *options, *extra])
            assert result.exit_code == 0, result.output
            assert ("on Dask at" in result.output) == (where != "here"), result.output
            written[where] = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    finally:
        get_settings.cache_clear()  # the next test of this process reads its own environment
    assert written["here"] == written["there"] == written["by setting"]
    assert len(written["here"]) == len(TABLES) + 1
