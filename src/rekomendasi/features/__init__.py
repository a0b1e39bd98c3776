"""Feature pipeline: point-in-time snapshots of competency gaps, performance, development and text."""

from rekomendasi.features.snapshot import TABLES, Snapshot, build_snapshot
from rekomendasi.features.spec import EvidenceSpec, load_spec
from rekomendasi.features.storage import SnapshotReader, read_snapshot, write_snapshot

__all__ = [
    "TABLES",
    "EvidenceSpec",
    "Snapshot",
    "SnapshotReader",
    "build_snapshot",
    "load_spec",
    "read_snapshot",
    "write_snapshot",
]
