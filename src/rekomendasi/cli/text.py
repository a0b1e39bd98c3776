"""``text tune`` and ``text evaluate``: the sentence model fine-tuned on the agency's labelled text, and
how it compares with the lexical model and the model it started from (:mod:`rekomendasi.jobs.text`).

A Typer sub-app of the main CLI (``app.add_typer(text_app, name="text")``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rekomendasi.cli.common import AsOf, DataDir, console, friendly_errors, parse_as_of, stages
from rekomendasi.settings import get_settings

if TYPE_CHECKING:
    from rekomendasi.jobs.text import TextTuning

text_app = typer.Typer(
    help="The sentence model for free text: fine-tune it on the agency's labelled text, and measure it.",
    no_args_is_help=True,
)

Loss = Annotated[
    str,
    typer.Option(help="Contrastive loss: mnrl (MultipleNegativesRanking), batch_all_triplet or cosine."),
]
Epochs = Annotated[int, typer.Option(min=1, help="Passes over the labelled texts.")]


@text_app.command("tune")
def tune(
    out: Annotated[Path, typer.Option(help="Directory to write the tuned sentence-transformers model to.")],
    data: DataDir = None,
    as_of: AsOf = None,
    loss: Loss = "mnrl",
    epochs: Epochs = 1,
) -> None:
    """Fine-tune the sentence model (REKOMENDASI_TEXT_MODEL_PATH, else the bundled one) on the labelled
    text outside the held-out fifth, save it to --out, and compare it on the held-out fifth.

    Point REKOMENDASI_TEXT_MODEL_PATH at --out to make it the snapshot's sentence model: each snapshot
    still measures it on held-out text and gives it weight only where it adds accuracy.
    """
    result = _run(out, data, as_of, loss, epochs, truth_rows=None)
    weight = result.comparison.lexical_weight
    verdict = (
        f"it earns weight {1 - weight:.1f} beside the lexical model"
        if weight < 1.0
        else "it earns no weight (the lexical model alone is as accurate)"
    )
    console.print(
        f"saved to {out}; on this data {verdict}. Use it with REKOMENDASI_TEXT_MODEL_PATH={out}",
        soft_wrap=True,
        highlight=False,
    )


@text_app.command("evaluate")
def evaluate(
    data: DataDir = None,
    as_of: AsOf = None,
    loss: Loss = "mnrl",
    epochs: Epochs = 1,
    truth_rows: Annotated[
        int,
        typer.Option(
            min=0,
            help="Untagged rows per table to score against truth/text_competency (0: every row; each "
            "new text costs an embedding per model).",
        ),
    ] = 2000,
    model: Annotated[
        Path | None,
        typer.Option(help="A model tuned earlier (`text tune --out`) to measure instead of tuning one."),
    ] = None,
) -> None:
    """Report top-1 accuracy on held-out labelled text (lexical, base embedding and its combination,
    tuned embedding and its combination) and on untagged rows against truth/ (a simulated world), of a
    model tuned into a temporary folder (or --model)."""
    if model is not None:
        _run(model, data, as_of, loss, epochs, truth_rows=truth_rows, tune=False)
        return
    with tempfile.TemporaryDirectory() as tmp:
        _run(Path(tmp) / "text_model", data, as_of, loss, epochs, truth_rows=truth_rows)


def _run(
    out: Path,
    data: Path | None,
    as_of: str | None,
    loss: str,
    epochs: int,
    truth_rows: int | None,
    tune: bool = True,
) -> TextTuning:
    from rekomendasi.jobs.text import TUNE_STAGES, text_tune_job
    from rekomendasi.text import TUNE_LOSSES, TuneConfig

    settings = get_settings()
    date = parse_as_of(as_of)
    if loss not in TUNE_LOSSES:
        raise typer.BadParameter(f"--loss must be one of {', '.join(TUNE_LOSSES)}, got {loss!r}")
    config = TuneConfig(loss=loss, epochs=epochs)
    with friendly_errors(), stages(TUNE_STAGES, "text model") as advance:
        result = text_tune_job(settings, data, out, date, config, truth_rows, progress=advance, tune=tune)
    _print(result)
    return result


def _print(result: TextTuning) -> None:
    stats = result.stats
    if stats is not None:
        console.print(
            f"tuned {result.base_model} on {result.data_dir} as of {result.as_of}: {stats.examples:,} "
            f"examples in {stats.steps} steps, {stats.seconds:.1f} s ({stats.cpu_seconds:.1f} s CPU), "
            f"loss {stats.first_loss:.3f} -> {stats.last_loss:.3f}",
            soft_wrap=True,
            highlight=False,
        )
    else:
        console.print(f"{result.model} against {result.base_model} on {result.data_dir} as of {result.as_of}")
    labelled = int(result.comparison.tuned.validation.get("labelled_texts", 0))
    console.print(f"[bold]held-out labelled text, top-1[/] (a fifth of {labelled:,} labelled texts)")
    console.print(result.comparison.held_out.round(4).to_string(index=False))
    if result.untagged is not None:
        console.print("[bold]untagged rows vs truth/text_competency, top-1[/] (restricted to the standard)")
        table = result.untagged.pivot_table(
            index=["table", "rows"], columns="method", values="top1_accuracy", sort=False
        )
        console.print(table.round(4).to_string())
