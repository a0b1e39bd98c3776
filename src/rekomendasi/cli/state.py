"""Commands on the service state: API keys, the audit log (show, verify, archive) and feedback exports.

Typer sub-apps of the main CLI (``app.add_typer(keys_app, name="keys")``, ``audit_app`` as ``audit``,
``feedback_app`` as ``feedback``). No business logic here: each command calls one function or method of
:mod:`rekomendasi.serving.store` and prints the result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import pandas as pd
import sqlalchemy as sa
import typer
from rich.markup import escape
from rich.table import Table

from rekomendasi.cli.common import console, err_console
from rekomendasi.errors import RekomendasiError
from rekomendasi.serving.store import (
    Database,
    KeyInfo,
    Stores,
    VerifyReport,
    open_stores,
    resolve_state_url,
    settings_chain_key,
    verify_state,
)
from rekomendasi.settings import get_settings

keys_app = typer.Typer(help="API keys of the recommendation service.", no_args_is_help=True)
audit_app = typer.Typer(
    help="The append-only, hash-chained audit log of API requests and key changes.", no_args_is_help=True
)
feedback_app = typer.Typer(help="Feedback on recommendations (training data).", no_args_is_help=True)

_EXPORT_SUFFIXES = (".csv", ".parquet")


def _fail(message: str) -> NoReturn:
    """Print one line to stderr and exit with code 2 (bad input), never a traceback."""
    err_console.print(f"[bold red]error:[/] {escape(' '.join(message.split()))}", soft_wrap=True)
    raise typer.Exit(code=2)


@contextmanager
def _stores() -> Iterator[Stores]:
    """The stores of the current settings; their errors become one-line messages with exit code 2."""
    try:
        stores = open_stores(get_settings())
        try:
            yield stores
        finally:
            stores.close()
    except RekomendasiError as err:
        _fail(err.message)
    except (ValueError, OSError, sa.exc.SQLAlchemyError) as err:
        _fail(str(err))


@keys_app.command("create")
def create_key(
    name: Annotated[str, typer.Option(help="Who holds the key, e.g. 'BKD Provinsi Jawa Barat'.")],
    role: Annotated[str, typer.Option(help="admin (all agencies), planner or platform.")],
    agency: Annotated[
        list[str] | None,
        typer.Option(help="instansi_id the key may see; repeat for several. Not for admin keys."),
    ] = None,
    origin: Annotated[
        list[str] | None,
        typer.Option(
            help="Web origin (scheme://host[:port]) whose pages may embed the widget with this key's "
            "tokens; repeat for several."
        ),
    ] = None,
) -> None:
    """Create an API key and print it once: only its hash is stored."""
    with _stores() as stores:
        principal, plaintext = stores.keys.create_key(name, role, agency or [], origin or [])
    console.print(f"created {principal.role} key {principal.key_id} for {escape(principal.name)}:")
    console.print(plaintext, soft_wrap=True, markup=False, highlight=False)
    err_console.print("[yellow]warning:[/] store this key now; it is not shown again.")


@keys_app.command("origins")
def set_origins(
    key_id: Annotated[str, typer.Argument(help="The key's id, as `keys list` shows it.")],
    origin: Annotated[
        list[str] | None,
        typer.Option(
            help="Web origin (scheme://host[:port]) allowed to embed the widget; repeat. None: no origin."
        ),
    ] = None,
) -> None:
    """Replace the web origins a key's embedded widget may be used from (CORS)."""
    with _stores() as stores:
        allowed = stores.keys.set_origins(key_id, origin or [])
    console.print(f"key {escape(key_id)} origins: {escape(', '.join(allowed)) or 'none'}")


@keys_app.command("list")
def list_keys() -> None:
    """List API keys (never their secrets)."""
    with _stores() as stores:
        keys = stores.keys.list_keys()
    if not keys:
        console.print("no API keys yet; create one with `keys create`")
        return
    table = Table(title="API keys")
    for column in ("key_id", "name", "role", "agencies", "origins", "created (UTC)", "status"):
        table.add_column(column, no_wrap=column in ("key_id", "created (UTC)"))
    for key in keys:
        table.add_row(*_key_row(key), style="" if key.active else "dim")
    console.print(table)


@keys_app.command("revoke")
def revoke_key(key_id: Annotated[str, typer.Argument(help="The key's id, as `keys list` shows it.")]) -> None:
    """Revoke an API key; running API processes stop accepting it within the cache time."""
    with _stores() as stores:
        revoked = stores.keys.revoke_key(key_id)
        ttl = stores.keys.cache_ttl
    if not revoked:
        _fail(f"no active key {key_id!r}; see `keys list`")
    console.print(f"revoked key {escape(key_id)}; running API processes reject it within {ttl:g} s")


@audit_app.command("show")
def show_audit(
    limit: Annotated[int, typer.Option(min=1, help="Show the most recent N requests.")] = 20,
) -> None:
    """Show the most recent audit rows, oldest first (NIPs appear only as counts)."""
    with _stores() as stores:
        frame = stores.audit.read(limit=limit)
    if frame.empty:
        console.print("the audit log is empty")
        return
    table = Table(title=f"last {len(frame)} audited requests")
    columns = ("at", "key_id", "role", "action", "nip_count", "model_version", "snapshot_id", "status")
    for column in columns:
        table.add_column(column, justify="right" if column in ("nip_count", "status") else "left")
    for row in frame.itertuples(index=False):
        values = [getattr(row, column) for column in columns]
        values[0] = values[0].strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(*("" if pd.isna(value) else escape(str(value)) for value in values))
    console.print(table)


@audit_app.command("verify")
def verify_audit(
    archive: Annotated[
        list[Path] | None,
        typer.Option(help="Another directory of archive files (besides audit_archive_dir); repeatable."),
    ] = None,
    head: Annotated[
        list[str] | None,
        typer.Option(help="A row_hash noted from an earlier verify; fail if it left the chain. Repeatable."),
    ] = None,
) -> None:
    """Check that the state database is as the service wrote it: the hash chains of audit log (with its
    archive files) and feedback, the append-only triggers, and the API keys against their audit rows.

    Prints the head of each chain (note it, and pass it back later as --head); exit code 1 when anything
    is wrong, each problem on one line with its table, row id and kind.
    """
    settings = get_settings()
    dirs = [settings.resolve(settings.audit_archive_dir), *(archive or [])]
    try:
        db = Database(resolve_state_url(settings))
        try:
            report = verify_state(db, settings_chain_key(settings), archive_dirs=dirs, heads=head or [])
        finally:
            db.close()
    except RekomendasiError as err:
        _fail(err.message)
    except (ValueError, OSError, sa.exc.SQLAlchemyError) as err:
        _fail(str(err))
    _print_report(report)
    if not report.ok:
        raise typer.Exit(code=1)


@audit_app.command("archive")
def archive_audit(
    before: Annotated[
        str, typer.Option(help="Archive rows before this date (YYYY-MM-DD, UTC) or ISO time with zone.")
    ],
    out: Annotated[
        Path | None, typer.Option(help="Directory of the archive file (default: audit_archive_dir).")
    ] = None,
) -> None:
    """Move audit rows older than --before into a Parquet file (chain included), then delete them from the
    database; an AUDIT ARCHIVE row records the file's SHA-256. `audit verify` reads the files back."""
    settings = get_settings()
    cutoff = _parse_before(before)
    out_dir = settings.resolve(out if out is not None else settings.audit_archive_dir)
    with _stores() as stores:
        result = stores.archive(cutoff, out_dir)
    if result.path is None:
        console.print(f"no audit rows before {cutoff.isoformat()}; nothing archived")
        return
    console.print(
        f"archived {result.rows:,} audit rows (ids {result.first_id}-{result.last_id}) to "
        f"{escape(str(result.path))}; sha256 {result.sha256}"
    )


@feedback_app.command("export")
def export_feedback(
    path: Annotated[Path, typer.Argument(help="Output file: .csv or .parquet.")],
    pseudonymous: Annotated[
        bool, typer.Option(help="Replace NIPs by their keyed hashes (data-science exports).")
    ] = False,
    current_only: Annotated[
        bool, typer.Option(help="Only rows in force: the last of each chain of corrections.")
    ] = False,
) -> None:
    """Export feedback (id, nip, training_id, event, reason, model_version, at, key_id, corrects)."""
    if path.suffix.lower() not in _EXPORT_SUFFIXES:
        _fail(f"{path}: use a .csv or .parquet file name, got suffix {path.suffix or '(none)'!r}")
    with _stores() as stores:
        frame = stores.feedback.export(pseudonymous=pseudonymous, current_only=current_only)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
    console.print(f"wrote {len(frame):,} feedback rows to {escape(str(path))}")


def _key_row(key: KeyInfo) -> tuple[str, ...]:
    agencies = ", ".join(sorted(key.agencies)) or "all"
    status = "active" if key.revoked_at is None else f"revoked {key.revoked_at:%Y-%m-%d %H:%M}"
    created = f"{key.created_at:%Y-%m-%d %H:%M}"
    origins = ", ".join(sorted(key.origins)) or "-"
    return key.key_id, escape(key.name), key.role.value, escape(agencies), escape(origins), created, status


def parse_moment(text: str, option: str) -> dt.datetime:
    """A time option (``--before``, ``--since``) as a UTC time: a date is its midnight UTC; a time without
    zone is taken as UTC. A text that is neither fails in one line (exit code 2)."""
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        pass
    else:
        return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        _fail(f"{option} {text!r} is neither a date (YYYY-MM-DD) nor an ISO time (2025-01-31T00:00:00+07:00)")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _parse_before(text: str) -> dt.datetime:
    return parse_moment(text, "--before")


def _print_report(report: VerifyReport) -> None:
    for chain_head in report.heads:
        where = (
            f"head id {chain_head.last_id} row_hash {chain_head.row_hash}"
            if chain_head.last_id is not None
            else "empty"
        )
        console.print(f"{chain_head.table}: {chain_head.rows:,} rows checked; {where}", soft_wrap=True)
    if report.archives:
        console.print(f"archive files read: {len(report.archives)}")
    if report.ok:
        console.print("[green]OK[/]: chains intact, triggers in place, keys as recorded")
        return
    for problem in report.problems:
        err_console.print(f"[bold red]problem:[/] {escape(str(problem))}", soft_wrap=True)
    err_console.print(f"[bold red]{len(report.problems)} problem(s)[/]: the state database was tampered with")
