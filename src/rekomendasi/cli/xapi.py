"""xAPI commands: export the recommendations shown to platforms as statements, map activity IRIs to
catalogue entries, and merge the statements platforms sent into a data directory's training history.

A Typer sub-app of the main CLI (``app.add_typer(xapi_app, name="xapi")``). No business logic here: each
command calls :mod:`rekomendasi.xapi` or the state store and prints the result.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from rekomendasi.atomic import write_atomic
from rekomendasi.cli.common import console, err_console
from rekomendasi.cli.state import _fail, _stores, parse_moment
from rekomendasi.contract.schemas import Catalog, optional_text
from rekomendasi.errors import RekomendasiError
from rekomendasi.features import SnapshotReader
from rekomendasi.serving.store import Stores
from rekomendasi.settings import Settings, get_settings
from rekomendasi.xapi import ActivityMap, EntryName, ShownRecommendation, merge_history, recommended_statement

xapi_app = typer.Typer(
    help="xAPI: recommended statements out, activity map, platforms' statements into training history.",
    no_args_is_help=True,
)

_EXPORT_PAGE = 5000


@xapi_app.command("export")
def export(
    out: Annotated[Path, typer.Option(help="Output file: a JSON array of xAPI statements (.json).")],
    since: Annotated[
        str | None,
        typer.Option(help="Only recommendations shown after this date (YYYY-MM-DD, UTC) or ISO time."),
    ] = None,
    key: Annotated[str | None, typer.Option(help="Only those shown to this API key (its key_id).")] = None,
) -> None:
    """Write the recommendations shown to platforms as xAPI statements with the TLA `recommended` verb
    (oldest first), ready to send to an LRS. Titles come from the snapshot (REKOMENDASI_SNAPSHOT_DIR)
    when there is one; without it, entries are named by their training_id."""
    if out.suffix.lower() != ".json":
        _fail(f"{out}: use a .json file name, got suffix {out.suffix or '(none)'!r}")
    cutoff = _parse_since(since) if since is not None else None
    settings = get_settings()
    names = _catalogue_names(settings)
    with _stores() as stores:
        activities = ActivityMap(stores.xapi.activities())
        rows = _all_shown(stores, cutoff, key)
        statements = [recommended_statement(r, settings.xapi_home_page, activities, names) for r in rows]
        write_atomic(out, json.dumps(statements, ensure_ascii=False, indent=1).encode())
    console.print(f"wrote {len(statements):,} recommended statements to {escape(str(out))}", soft_wrap=True)


@xapi_app.command("map")
def map_activity(
    iri: Annotated[str, typer.Argument(help="The activity IRI a platform uses for the course.")],
    training_id: Annotated[str, typer.Argument(help="The catalogue entry it delivers.")],
) -> None:
    """Map a platform's activity IRI to a catalogue entry, so its statements count for that entry.
    (Every entry is also reachable without mapping as urn:rekomendasi:training:<training_id>.)"""
    with _stores() as stores:
        before = stores.xapi.map_activity(iri, training_id)
    was = f" (was {escape(before)})" if before is not None else ""
    console.print(f"mapped {escape(iri.strip())} -> {escape(training_id.strip())}{was}", soft_wrap=True)


@xapi_app.command("activities")
def activities() -> None:
    """List the activity map, in the order the IRIs were mapped."""
    with _stores() as stores:
        mapped = stores.xapi.activities()
    if not mapped:
        console.print("no activity IRIs mapped yet; map one with `xapi map IRI TRAINING_ID`")
        return
    table = Table(title="xAPI activity map")
    table.add_column("activity IRI", overflow="fold")
    table.add_column("training_id", no_wrap=True)
    for iri, training_id in mapped:
        table.add_row(escape(iri), escape(training_id))
    console.print(table)


@xapi_app.command("history")
def history(
    data: Annotated[Path, typer.Option(help="The data directory whose training_history to extend.")],
    dry_run: Annotated[bool, typer.Option(help="Only count what would be added; write nothing.")] = False,
) -> None:
    """Merge the statements platforms sent into DATA's training_history (.csv or .parquet, whichever
    exists; a new CSV when neither): one row per enrolment, existing rows kept as they are, a row whose
    key (nip, training_id, enrolled_on) is already there not added. The file is replaced atomically."""
    with _stores() as stores:
        rows = stores.xapi.history_rows()
        result = merge_history(data, rows, dry_run=dry_run)
    verb = "would add" if dry_run else "added"
    made = " (new file)" if result.created and (result.written or dry_run) else ""
    console.print(
        f"{escape(str(result.path))}{made}: {result.existing:,} existing rows; {verb} {result.added:,} "
        f"rows from xAPI statements; {result.kept:,} already there (kept as they are)",
        soft_wrap=True,
    )


def _all_shown(stores: Stores, since: dt.datetime | None, key: str | None) -> list[ShownRecommendation]:
    rows: list[ShownRecommendation] = []
    after: int | None = None
    while True:
        page = stores.xapi.shown(since, key, _EXPORT_PAGE, after)
        rows.extend(page)
        if len(page) < _EXPORT_PAGE:
            return rows
        after = page[-1].id


def _catalogue_names(settings: Settings) -> dict[str, EntryName]:
    """Titles of the snapshot's catalogue; empty when there is no snapshot (entries then go by id)."""
    try:
        catalog = SnapshotReader(settings.resolve(settings.snapshot_dir)).head.catalog
    except RekomendasiError as err:
        err_console.print(
            f"[yellow]note:[/] no catalogue titles ({escape(err.message)}); naming entries by id"
        )
        return {}
    return {
        str(row[Catalog.training_id]): EntryName(
            str(row[Catalog.title]), optional_text(row[Catalog.language])
        )
        for row in catalog.to_dict("records")
    }


def _parse_since(text: str) -> dt.datetime:
    return parse_moment(text, "--since")


__all__ = ["xapi_app"]
