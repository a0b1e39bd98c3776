"""The demo key of ``rekomendasi serve --demo-key``: a planner key for the first active employee's agency
of the snapshot the server serves, so a printed example request answers."""

from __future__ import annotations

from dataclasses import dataclass

from rekomendasi.errors import ModelNotReady
from rekomendasi.features.schemas import Roster
from rekomendasi.jobs.snapshots import active_roster
from rekomendasi.serving.auth import Role
from rekomendasi.serving.store import open_stores
from rekomendasi.settings import Settings


@dataclass(frozen=True, slots=True)
class DemoKey:
    """A planner key (plaintext, shown once), its agency, and an active employee of that agency."""

    key: str
    agency: str
    nip: str


def demo_key(settings: Settings) -> DemoKey:
    """Create a planner key scoped to the agency of the snapshot's first active employee (by NIP).

    Raises:
        ModelNotReady: there is no snapshot in ``REKOMENDASI_SNAPSHOT_DIR``, or it has no active employee.
    """
    snapshot_dir = settings.resolve(settings.snapshot_dir)
    active = active_roster(snapshot_dir)
    if active.empty:
        raise ModelNotReady(f"the snapshot in {snapshot_dir} has no active employee to show in the demo.")
    first = active.iloc[0]
    with open_stores(settings) as stores:
        _, key = stores.keys.create_key("demo planner", Role.PLANNER, [str(first[Roster.instansi_id])])
    return DemoKey(key, str(first[Roster.instansi_id]), str(first[Roster.nip]))
