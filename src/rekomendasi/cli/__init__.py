"""The ``rekomendasi`` command line. Each command parses its options, calls one job
(:mod:`rekomendasi.jobs`) and prints what it returns; no business logic lives here.

Commands by group: :mod:`.data` (simulate, validate), :mod:`.features` (features, evaluate-features),
:mod:`.models` (evaluate, train, promote, models), :mod:`.effectiveness` (effectiveness), :mod:`.outputs`
(score, batch, serve), :mod:`.state` (keys, audit, feedback), :mod:`.xapi` (xapi ...), :mod:`.text` (text
tune, text evaluate) and :mod:`.bench` (bench ...).
"""

from __future__ import annotations

import typer

from rekomendasi import __version__
from rekomendasi.cli import bench, data, effectiveness, features, models, outputs, plans, state, text, xapi
from rekomendasi.cli.common import console

app = typer.Typer(
    help="rekomendasi: training recommendations for Indonesian civil servants (ASN).", no_args_is_help=True
)


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"rekomendasi {__version__}")


for _name, _command in (
    ("simulate", data.simulate),
    ("validate", data.validate),
    ("features", features.features),
    ("evaluate-features", features.evaluate_features),
    ("evaluate", models.evaluate),
    ("train", models.train),
    ("promote", models.promote),
    ("models", models.models),
    ("batch", outputs.batch),
    ("score", outputs.score),
    ("plan", plans.plan),
    ("effectiveness", effectiveness.effectiveness),
    ("serve", outputs.serve),
):
    app.command(_name)(_command)
app.add_typer(bench.app, name="bench")
app.add_typer(state.keys_app, name="keys")
app.add_typer(state.audit_app, name="audit")
app.add_typer(state.feedback_app, name="feedback")
app.add_typer(xapi.xapi_app, name="xapi")
app.add_typer(text.text_app, name="text")


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
