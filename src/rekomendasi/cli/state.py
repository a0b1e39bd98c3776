"""Commands on the service state: API keys, the audit log and feedback exports.

Typer sub-apps of the main CLI (``app.add_typer(keys_app, name="keys")``, ``audit_app`` as ``audit``,
``feedback_app`` as ``feedback``). No business logic here: each command calls one method of the
:class:`~rekomendasi.serving.store.Stores` (keys, audit log, feedback) and prints the result.
"""

from __future__ import annotations

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
from rekomendasi.serving.store import CACHE_TTL_SECONDS, KeyInfo, Stores, open_stores
from rekomendasi.settings import get_settings

keys_app = typer.Typer(help="API keys of the recommendation service.", no_args_is_help=True)
audit_app = typer.Typer(help="The append-only audit log of API requests.", no_args_is_help=True)
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
) -> None:
    """Create an API key and print it once: only its hash is stored."""
    with _stores() as stores:
        principal, plaintext = stores.keys.create_key(name, role, agency or [])
    console.print(f"created {principal.role} key {principal.key_id} for {escape(principal.name)}:")
    console.print(plaintext, soft_wrap=True, markup=False, highlight=False)
    err_console.print("[yellow]warning:[/] store this key now; it is not shown again.")


@keys_app.command("list")
def list_keys() -> None:
    """List API keys (never their secrets)."""
    with _stores() as stores:
        keys = stores.keys.list_keys()
    if not keys:
        console.print("no API keys yet; create one with `keys create`")
        return
    table = Table(title="API keys")
    for column in ("key_id", "name", "role", "agencies", "created (UTC)", "status"):
        table.add_column(column, no_wrap=column in ("key_id", "created (UTC)"))
    for key in keys:
        table.add_row(*_key_row(key), style="" if key.active else "dim")
    console.print(table)


@keys_app.command("revoke")
def revoke_key(key_id: Annotated[str, typer.Argument(help="The key's id, as `keys list` shows it.")]) -> None:
    """Revoke an API key; running API processes stop accepting it within the cache time."""
    with _stores() as stores:
        revoked = stores.keys.revoke_key(key_id)
    if not revoked:
        _fail(f"no active key {key_id!r}; see `keys list`")
    console.print(
        f"revoked key {escape(key_id)}; running API processes reject it within {CACHE_TTL_SECONDS:.0f} s"
    )


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


@feedback_app.command("export")
def export_feedback(
    path: Annotated[Path, typer.Argument(help="Output file: .csv or .parquet.")],
    pseudonymous: Annotated[
        bool, typer.Option(help="Replace NIPs by their keyed hashes (data-science exports).")
    ] = False,
) -> None:
    """Export all feedback (nip, training_id, event, reason, model_version, at, key_id)."""
    if path.suffix.lower() not in _EXPORT_SUFFIXES:
        _fail(f"{path}: use a .csv or .parquet file name, got suffix {path.suffix or '(none)'!r}")
    with _stores() as stores:
        frame = stores.feedback.export(pseudonymous=pseudonymous)
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
    return key.key_id, escape(key.name), key.role.value, escape(agencies), created, status
