"""The snapshot of a data directory loaded by agency (#14) is the snapshot of the whole dataset: on many
agencies with awkward cases, in this process and on Dask workers, with a sentence model whose vectors
depend on their batch."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas.testing as pdt
import pytest

from rekomendasi.cluster import Runner
from rekomendasi.contract import Dataset, load_dataset
from rekomendasi.contract.byagency import load_by_agency
from rekomendasi.features import EvidenceSpec, Snapshot, build_snapshot
from rekomendasi.features import byagency as by_agency
from rekomendasi.features import snapshot as building
from rekomendasi.features.byagency import build_snapshot_by_agency
from rekomendasi.features.textmap import TextModel
from tests.features.conftest import AS_OF
from tests.features.test_partitioned import _assert_same, _BatchSensitiveEncoder, _many_agencies


def _write(dataset: Dataset, out: Path) -> Path:
    out.mkdir()
    for name, frame in dataset.tables.items():
        if name in dataset.present:
            frame.to_parquet(out / f"{name}.parquet", index=False)
    return out


@pytest.fixture(scope="module")
def many_dir(small_dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six agencies with an agency without SKP, one whose staff join after the as-of date, one of one;
    the rows of a NIP nobody employs are quarantined by both loads."""
    return _write(_many_agencies(small_dataset), tmp_path_factory.mktemp("many") / "data")


def _by_agency(
    data_dir: Path, scratch: Path, spec: EvidenceSpec, encoder: object = None, runner: Runner | None = None
) -> Snapshot:
    scratch.mkdir(exist_ok=True)
    data = load_by_agency(data_dir, scratch, max_quarantine_share=None, chunk_rows=500, runner=runner)
    return build_snapshot_by_agency(data, AS_OF, spec, encoder, runner=runner)  # type: ignore[arg-type]


def test_by_agency_is_the_whole_build(many_dir: Path, spec: EvidenceSpec, tmp_path: Path) -> None:
    whole = build_snapshot(load_dataset(many_dir, max_quarantine_share=None), AS_OF, spec, encoder=None)
    stages: list[str] = []
    counts: list[tuple[int, int]] = []
    data = load_by_agency(many_dir, tmp_path, max_quarantine_share=None, chunk_rows=500)
    cut = build_snapshot_by_agency(
        data, AS_OF, spec, None, progress=stages.append, agencies=lambda d, t: counts.append((d, t))
    )
    _assert_same(whole, cut)
    assert whole.manifest == cut.manifest
    assert len(data.agencies) == 6 and counts.count((6, 6)) == 2  # two passes over the agencies
    assert stages == [
        "point-in-time view",
        "text model",
        "per-agency features",
        "competency gaps",
        "outcomes and peers",
        "checks",
    ]


def test_by_agency_on_two_workers(
    many_dir: Path, spec: EvidenceSpec, tmp_path: Path, two_workers: Runner
) -> None:
    here = _by_agency(many_dir, tmp_path / "here", spec)
    there = _by_agency(many_dir, tmp_path / "there", spec, runner=two_workers)
    _assert_same(here, there)
    assert here.manifest == there.manifest
    # The load itself on the workers (a table per task): the same quarantine, reports and parts.
    (tmp_path / "load-here").mkdir()
    (tmp_path / "load-there").mkdir()
    loads = [
        load_by_agency(many_dir, tmp_path / "load-here", max_quarantine_share=None, chunk_rows=500),
        load_by_agency(
            many_dir, tmp_path / "load-there", max_quarantine_share=None, chunk_rows=500, runner=two_workers
        ),
    ]
    assert len(loads[0].quarantine) > 0  # the rows of a NIP nobody employs
    pdt.assert_frame_equal(loads[0].quarantine, loads[1].quarantine)
    assert loads[0].reports == loads[1].reports and loads[0].fingerprint() == loads[1].fingerprint()
    for code in range(len(loads[0].agencies)):
        pdt.assert_frame_equal(
            loads[0].parts.read("daily_reports", code), loads[1].parts.read("daily_reports", code)
        )


def test_by_agency_embeds_the_texts_of_a_whole_build(
    many_dir: Path, spec: EvidenceSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fit = building.fit_text_model

    def half_lexical(*args: object) -> TextModel:  # the sentence model in the combination
        return dataclasses.replace(fit(*args), lexical_weight=0.5)  # type: ignore[arg-type]

    monkeypatch.setattr(building, "fit_text_model", half_lexical)
    monkeypatch.setattr(by_agency, "fit_text_model", half_lexical)
    encoders = [_BatchSensitiveEncoder(), _BatchSensitiveEncoder()]
    dataset = load_dataset(many_dir, max_quarantine_share=None)
    whole = build_snapshot(dataset, AS_OF, spec, encoder=encoders[0])  # type: ignore[arg-type]
    cut = _by_agency(many_dir, tmp_path, spec, encoder=encoders[1])
    _assert_same(whole, cut)
    assert encoders[0].batches == encoders[1].batches and len(encoders[0].batches) > 2
