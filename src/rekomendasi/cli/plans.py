"""``plan``: an agency's development plan (AKPK) under budget, written as CSV, Parquet or XLSX."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from rekomendasi.cli.common import AsOf, console, friendly_errors, parse_as_of, stages
from rekomendasi.settings import get_settings

if TYPE_CHECKING:
    from rekomendasi.plans import Plan


def plan(
    agency: Annotated[str, typer.Option(help="The agency (instansi_id) to plan for.")],
    budget_idr: Annotated[int, typer.Option(help="Budget for the year's trainings, in rupiah (> 0).")],
    out: Annotated[
        Path, typer.Option(help="Output file: .csv, .parquet or .xlsx (summary + a sheet per unit).")
    ],
    data: Annotated[
        Path | None,
        typer.Option(
            help="Build the snapshot of this data directory (default: read REKOMENDASI_SNAPSHOT_DIR)."
        ),
    ] = None,
    as_of: AsOf = None,
    year: Annotated[
        int | None, typer.Option(help="Plan year (default: the year after the as-of date).")
    ] = None,
    min_jp: Annotated[float, typer.Option(help="JP floor per person and year.")] = 20.0,
    unit: Annotated[str | None, typer.Option(help="Plan one work unit of the agency only.")] = None,
    max_cost_per_person_idr: Annotated[
        int | None, typer.Option(help="Cap on one person's personal trainings, in rupiah.")
    ] = None,
    fair_coverage: Annotated[
        str,
        typer.Option(
            help="Comma-separated groups (status, gender, unit_id) that must reach the floor "
            "at least at the agency's rate."
        ),
    ] = "",
    lang: Annotated[str, typer.Option(help="Language of reasons, headers and summary: id or en.")] = "id",
    what_if_budget: Annotated[
        str, typer.Option(help="Comma-separated budgets: print and plot coverage and gain against budget.")
    ] = "",
    time_limit: Annotated[float, typer.Option(help="Solver time limit in seconds.")] = 60.0,
) -> None:
    """An agency's development plan (AKPK): who takes which training, within budget, seats and the JP
    floor, mandatory programmes first."""
    from rekomendasi.errors import PlanInputError
    from rekomendasi.jobs.snapshots import SNAPSHOT_STAGES, scoring_snapshot
    from rekomendasi.plans import PlanRequest, make_plan
    from rekomendasi.plans.core import what_if
    from rekomendasi.plans.export import what_if_chart, write_plan
    from rekomendasi.recommend import Objections, ScoresStore, StoreId
    from rekomendasi.recommend.champion import load_champion
    from rekomendasi.registry import registry_from_settings
    from rekomendasi.serving.store import read_feedback

    if lang not in ("id", "en"):
        raise typer.BadParameter("--lang must be id or en")
    if out.suffix.lower() not in (".csv", ".parquet", ".xlsx"):
        raise typer.BadParameter(f"--out must end in .csv, .parquet or .xlsx; got {out.name}")
    if as_of is not None and data is None:
        raise typer.BadParameter("--as-of needs --data: a written snapshot keeps the date it was built for")
    settings = get_settings()
    date = parse_as_of(as_of)
    snapshot_dir = settings.resolve(settings.snapshot_dir)
    with friendly_errors():
        budgets = _budgets(what_if_budget)
        request = PlanRequest(
            agency=agency,
            budget_idr=budget_idr,
            year=year,
            min_jp=min_jp,
            unit=unit,
            max_cost_per_person_idr=max_cost_per_person_idr,
            fair_coverage=tuple(c.strip() for c in fair_coverage.split(",") if c.strip()),
            lang=lang,  # type: ignore[arg-type]
            time_limit_s=time_limit,
        )
        from rekomendasi.plans.problem import check_request

        check_request(request)
        if data is None:
            snapshot, _ = scoring_snapshot(settings, None, None, snapshot_dir)
        else:
            with stages(SNAPSHOT_STAGES, f"snapshot of {data}") as advance:
                snapshot, _ = scoring_snapshot(settings, data, date, snapshot_dir, advance)
        champion = load_champion(registry_from_settings(settings))
        root = settings.resolve(settings.scores_dir)
        command = f"rekomendasi score --data {data}" if data is not None else "rekomendasi score"
        store = ScoresStore.open(
            root, StoreId(snapshot.snapshot_id, champion.version.version, champion.version.run_id), command
        )
        from rekomendasi.plans.highs import quiet_banner

        quiet_banner()
        objections = Objections.from_feedback(read_feedback(settings))  # nobody gets what they contest
        with console.status(f"planning {agency} (time limit {time_limit:g} s)"):
            result = make_plan(snapshot, store, champion.model, champion.version, request, objections)
        written = write_plan(result, out)
        _print_summary(result)
        console.print(f"{len(result.assignments):,} assignments written to {written}", soft_wrap=True)
        if budgets:
            if any(b <= 0 for b in budgets):
                raise PlanInputError("every --what-if-budget must be more than Rp 0.")
            with console.status(f"what if: {len(budgets)} budgets"):
                points = what_if(snapshot, store, champion.model, request, budgets, objections)
            _print_what_if(points, request.lang)
            chart = what_if_chart(points, out.with_name(out.stem + "-what-if.png"), request.lang)
            console.print(f"chart: {chart}", soft_wrap=True)


def _budgets(text: str) -> list[int]:
    from rekomendasi.errors import PlanInputError

    try:
        return [int(float(v)) for v in text.split(",") if v.strip()]
    except ValueError as err:
        raise PlanInputError(f"--what-if-budget takes comma-separated rupiah amounts; got {text!r}.") from err


def _print_summary(plan: Plan) -> None:
    from rekomendasi.plans.export import number, rupiah

    s, lang = plan.summary, plan.request.lang
    id_ = lang == "id"
    table = Table(title=("Ringkasan rencana " if id_ else "Plan summary ") + s.agency, show_header=False)
    rows = [
        ("Tahun rencana" if id_ else "Plan year", str(s.year)),
        ("Anggaran" if id_ else "Budget", rupiah(s.budget_idr, lang)),
        ("Total biaya" if id_ else "Total cost", rupiah(s.total_cost_idr, lang)),
        (
            f"Pegawai mencapai {s.min_jp:g} JP" if id_ else f"Staff reaching {s.min_jp:g} JP",
            f"{number(s.at_floor, lang)} / {number(s.staff, lang)} ({100 * s.share_at_floor:.0f}%)",
        ),
        (
            "Perkiraan penutupan kesenjangan (level)" if id_ else "Expected gap closure (levels)",
            number(s.expected_gain, lang, 2),
        ),
        (
            "Program wajib didanai" if id_ else "Mandatory programmes funded",
            f"{s.mandatory_funded} / {s.mandatory_due}",
        ),
        (
            "Anggaran agar semua mencapai JP" if id_ else "Budget for everyone to reach the floor",
            rupiah(s.budget_for_all_idr, lang) if s.budget_for_all_idr is not None else "-",
        ),
        (
            "Status solver" if id_ else "Solver status",
            f"{s.solver_status}, gap {number(100 * max(s.mip_gap, 0), lang, 2)}%, "
            f"{number(s.solve_seconds, lang, 1)} s",
        ),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    groups = Table(title="Per kelompok" if id_ else "By group")
    for column in ("dimension", "group", "staff", "at floor", "share", "cost", "gain"):
        groups.add_column(column, justify="right" if column not in ("dimension", "group") else "left")
    for g in s.groups:
        groups.add_row(
            g.dimension,
            g.group,
            number(g.staff, lang),
            number(g.at_floor, lang),
            f"{100 * g.share_at_floor:.0f}%",
            rupiah(g.cost_idr, lang),
            number(g.expected_gain, lang, 2),
        )
    console.print(groups)
    for b in s.binding:
        console.print(f"- {b.text(lang)}", soft_wrap=True, highlight=False)


def _print_what_if(points: object, lang: str) -> None:
    import pandas as pd

    from rekomendasi.plans.export import number, rupiah

    assert isinstance(points, pd.DataFrame)
    id_ = lang == "id"
    table = Table(title="Bagaimana jika anggaran" if id_ else "What if the budget")
    columns = (
        (
            "anggaran",
            "biaya",
            "program wajib didanai",
            "mencapai JP",
            "porsi",
            "perkiraan penutupan",
            "status",
        )
        if id_
        else ("budget", "cost", "mandatory funded", "at floor", "share", "expected gain", "status")
    )
    for column in columns:
        table.add_column(column, justify="right")
    for _, p in points.iterrows():
        table.add_row(
            rupiah(int(p["budget_idr"]), lang),  # type: ignore[arg-type]
            rupiah(int(p["total_cost_idr"]), lang),  # type: ignore[arg-type]
            number(int(p["mandatory_funded"]), lang),
            f"{number(int(p['at_floor']), lang)}/{number(int(p['staff']), lang)}",
            f"{100 * float(p['share_at_floor']):.0f}%",
            number(float(p["expected_gain"]), lang, 2),
            str(p["status"]),
        )
    console.print(table)
