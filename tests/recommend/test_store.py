"""The scores store: written by agency, read back one employee at a time, identified by snapshot and
model, replaced whole, and the batch file read from it."""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pytest

from rekomendasi.candidates import Catalogue, build_matrices
from rekomendasi.errors import ModelNotReady
from rekomendasi.features import Snapshot
from rekomendasi.recommend import ScoreOptions, ScoresStore, StoreId, records, score_employees, write_store
from rekomendasi.recommend import store as store_module
from rekomendasi.recommend.batch import batch_table

from .conftest import LinearRanker

OPTIONS = ScoreOptions(candidates=40, top_n=12, explained=5)


@pytest.fixture()
def written(tmp_path: Path, snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, StoreId]:
    monkeypatch.setattr(store_module, "EMPLOYEES_PER_GROUP", 3)  # many row groups in a small world
    store_id = StoreId(snapshot.snapshot_id, "7", "0123456789abcdef")
    path = write_store(tmp_path / "scores", snapshot, LinearRanker(), store_id, OPTIONS)
    return path, store_id


def test_each_employee_reads_back_as_scored(written: tuple[Path, StoreId], snapshot: Snapshot) -> None:
    path, store_id = written
    assert path.name == store_id.name and ":" not in path.name
    store = ScoresStore(path)
    everyone = score_employees(build_matrices(snapshot), LinearRanker(), OPTIONS)
    active = snapshot.roster[snapshot.roster["active"]]
    assert (
        store.manifest["employees"]
        == everyone["nip"].isin(active["nip"]).groupby(everyone["nip"]).any().sum()
    )
    for nip, agency in zip(active["nip"].iloc[::7], active["instansi_id"].iloc[::7], strict=True):
        mine = everyone[everyone["nip"] == nip].drop(columns="instansi_id")
        # A server reads the explained ranks (the head); jobs read every rank.
        assert records(store.employee(agency, nip)) == records(mine[mine["rank"] <= OPTIONS.explained])
        whole = store.read(agency)
        assert records(whole[whole["nip"] == nip].drop(columns="instansi_id")) == records(mine)
    # A NIP of another agency, or one the store does not hold, reads as nothing.
    assert store.employee(str(active["instansi_id"].iloc[0]), "999999999999999999").num_rows == 0
    assert store.employee("no-such-agency", str(active["nip"].iloc[0])).num_rows == 0


def test_row_groups_never_split_an_employee(written: tuple[Path, StoreId]) -> None:
    import pyarrow.parquet as pq

    path, _ = written
    parts = sorted(path.glob("instansi_id=*/part-*.parquet"))
    assert {p.name for p in parts} == {"part-0.parquet", "part-1.parquet"}
    for part in parts:
        meta = pq.ParquetFile(part).metadata
        column = pq.ParquetFile(part).schema_arrow.get_field_index("nip")
        bounds = [
            (meta.row_group(i).column(column).statistics.min, meta.row_group(i).column(column).statistics.max)
            for i in range(meta.num_row_groups)
        ]
        assert all(high < low for (_, high), (low, _) in itertools.pairwise(bounds))


def test_the_store_is_a_hive_partitioned_parquet_dataset(written: tuple[Path, StoreId]) -> None:
    path, _ = written
    table = ds.dataset(path, format="parquet", partitioning="hive").to_table()
    frame = table.to_pandas()
    store = ScoresStore(path)
    assert len(frame) == store.manifest["rows"]
    assert sorted(frame["instansi_id"].unique()) == store.agencies()


def test_a_missing_or_stale_store_names_the_command(written: tuple[Path, StoreId]) -> None:
    path, store_id = written
    stale = StoreId(store_id.snapshot_id, "8", "fedcba9876543210")
    with pytest.raises(ModelNotReady, match="rekomendasi score --snapshot S") as err:
        ScoresStore.open(path.parent, stale, command="rekomendasi score --snapshot S")
    assert store_id.name in str(err.value)  # what the root holds instead
    assert ScoresStore.open(path.parent, store_id, command="x").top_n == OPTIONS.top_n


def test_writing_again_replaces_the_store_whole(
    written: tuple[Path, StoreId], snapshot: Snapshot, tmp_path: Path
) -> None:
    path, store_id = written
    again = write_store(path.parent, snapshot, LinearRanker(decimals=3), store_id, OPTIONS)
    assert again == path
    assert [p.name for p in path.parent.iterdir()] == [store_id.name]  # no partial or old copy left


def test_batch_reads_the_top_k_with_reasons(written: tuple[Path, StoreId], snapshot: Snapshot) -> None:
    path, _ = written
    store = ScoresStore(path)
    names = Catalogue.from_snapshot(snapshot).names
    batch = batch_table(store, 5, names)
    assert list(batch.columns) == ["nip", "rank", "training_id", "score", "reason"]
    assert batch.groupby("nip")["rank"].max().max() == 5
    assert batch["nip"].is_monotonic_increasing
    assert batch["reason"].str.match(r"^(Menutup|Memperkuat|Mengembangkan|Pengembangan)").all()
    full = pd.concat([store.read(a) for a in store.agencies()])
    top = full[full["rank"] <= 5].sort_values(["nip", "rank"])
    assert batch["training_id"].tolist() == top["training_id"].tolist()
    with pytest.raises(ValueError, match="keeps 12"):
        batch_table(store, 13, names)


def test_duckdb_reads_the_store_with_its_partitions(written: tuple[Path, StoreId]) -> None:
    import duckdb

    path, _ = written
    ((rows, agencies, deepest),) = duckdb.sql(
        f"select count(*), count(distinct instansi_id), max(rank) "
        f"from read_parquet('{path}/*/*.parquet', hive_partitioning=true)"
    ).fetchall()
    store = ScoresStore(path)
    assert (rows, agencies, deepest) == (store.manifest["rows"], len(store.agencies()), OPTIONS.top_n)


def test_empty_parts_write_and_read_as_nothing(tmp_path: Path) -> None:
    import pyarrow as pa

    from rekomendasi.rowgroups import BatchedFile, GroupCache, GroupedFile, write_batched, write_grouped

    empty = pa.table({"nip": pa.array([], pa.string()), "x": pa.array([], pa.int64())})
    grouped = GroupedFile(write_grouped(empty, tmp_path / "g.parquet", 4), GroupCache(2))
    batched = BatchedFile(write_batched(empty, tmp_path / "b.arrow", 4))
    for opened in (grouped, batched):
        assert opened.rows("198501012010011001").num_rows == 0
