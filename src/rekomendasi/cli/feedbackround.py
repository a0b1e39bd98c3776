"""``bench feedback``: a feedback round on a simulated world, the ranker's quality before and after
retraining on it (issue #15).

Registered on the ``bench`` group by importing this module (the last line of :mod:`.bench`); the round
itself lives in :mod:`rekomendasi.bench.feedbackround`.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer

from rekomendasi.cli.bench import Record, _report, app
from rekomendasi.cli.common import AsOf, console, friendly_errors, parse_as_of


@app.command("feedback")
def bench_feedback(
    data: Annotated[Path, typer.Option(help="A simulated data directory (with truth/).")],
    out: Annotated[
        Path | None, typer.Option(help="Write feedback.csv (the simulated answers) and result.json here.")
    ] = None,
    as_of: AsOf = None,
    rounds: Annotated[int, typer.Option(min=1, help="Feedback rounds (each retrains on all answers).")] = 1,
    seed: Annotated[int, typer.Option(help="Seed of the simulated answers.")] = 0,
    record: Record = None,
) -> None:
    """Train on outcomes, show the training employees the served ranker's top 10, simulate their answers
    from the truth (accept, reject, object, complete), retrain with them as feedback, and compare each
    model's truth-graded NDCG@10 before and after on the same held-out employees (95% bootstrap
    intervals; the served ranker, and the LambdaRank reference when the fit has one)."""
    from rekomendasi.bench.feedbackround import Responses, feedback_round
    from rekomendasi.bench.harness import bench_line
    from rekomendasi.jobs.inputs import training_inputs
    from rekomendasi.settings import get_settings

    date = parse_as_of(as_of)
    with friendly_errors():
        inputs = training_inputs(get_settings(), data, date)
        result = feedback_round(
            inputs.dataset,
            inputs.spec,
            inputs.config,
            inputs.as_of,
            rounds,
            Responses(seed=seed),
            progress=lambda stage: console.print(f"[dim]{stage}[/]", highlight=False),
        )
    console.print(
        f"held-out employees: {result.employees:,}; feedback rows: {len(result.feedback):,} {result.events}"
    )
    console.print(f"pairs used in the last fit: {result.used}", highlight=False)
    for name, m in result.models.items():
        (b, bl, bh), (a, al, ah), (d, dl, dh) = m.before, m.after, m.difference
        console.print(f"[bold]{name}[/]", highlight=False)
        console.print(f"  NDCG@10 before feedback: {b:.4f} [{bl:.4f}, {bh:.4f}]")
        console.print(f"  NDCG@10 after feedback:  {a:.4f} [{al:.4f}, {ah:.4f}]")
        console.print(f"  paired difference:       {d:+.4f} [{dl:+.4f}, {dh:+.4f}]")
    fields = {
        "data": str(data),
        "as_of": inputs.as_of.isoformat(),
        "rounds": rounds,
        "seed": seed,
        "responses": dataclasses.asdict(Responses(seed=seed)),
        "employees": result.employees,
        "models": {name: dataclasses.asdict(m) for name, m in result.models.items()},
        "events": result.events,
        "used": result.used,
        "baselines": result.baselines,
        "stage_seconds": result.seconds,
    }
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        result.feedback.to_csv(out / "feedback.csv", index=False)
        (out / "result.json").write_text(json.dumps(fields, indent=2) + "\n", encoding="utf-8")
        console.print(f"wrote {out / 'feedback.csv'} and {out / 'result.json'}", highlight=False)
    _report(bench_line("feedback", fields), record)
