"""``forbear lab``: the strategy lab: run strategies against the borrower simulator, compare
them, search for a better one (docs/lab.md)."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from forbear.cli.common import console, err, open_app, parse_date
from forbear.domain.errors import ValidationError

app = typer.Typer(
    help="The strategy lab: run strategies against the borrower simulator, compare them, "
    "search for a better one.",
    no_args_is_help=True,
)

_BOOK = typer.Option(
    "--book",
    help="read the population from this database URL (default: the configured database)",
)
_SYNTHETIC = typer.Option(
    "--synthetic", help="a synthetic population of N loans instead of a book", min=1
)
_PARAMS = typer.Option("--params", help="simulator parameter file (default: the shipped one)")


def _say(text: str) -> None:
    err.print(text, highlight=False, markup=False)


def _population(
    book: str | None, synthetic: int | None, as_of: str | None, seed: int
) -> tuple[Any, date, Any]:
    """(population, start day, the app when a book was read, for the real strategy check)."""
    from forbear.sim.borrowers import Population

    if book is not None and synthetic is not None:
        raise ValidationError("--book / --synthetic", "give one of them, not both")
    if synthetic is not None:
        start = parse_date(as_of, "--as-of") if as_of else date.today()
        return Population.synthetic(synthetic, seed), start, None
    forbear = open_app() if book is None else _app_at(book)
    start = parse_date(as_of, "--as-of") if as_of else forbear.today()
    with forbear.engine.connect() as conn:
        trans = conn.begin()
        try:
            population = Population.from_book(conn, start)
        finally:
            trans.rollback()  # reading the book writes nothing
    return population, start, forbear


def _app_at(url: str) -> Any:
    from forbear.bootstrap import bootstrap, load_settings

    return bootstrap(load_settings(database_url=url))


def _params(path: Path | None) -> Any:
    from forbear.sim.borrowers import load_parameters

    return load_parameters(path)


def _strategies(refs: list[str], forbear: Any, start: date, max_blocked: float) -> list[Any]:
    """Each strategy validated like ``forbear strategy check``: the file, its template
    codes, and on a book the real check (the gate on the book's first day)."""
    from forbear.sim.lab.strategies import load

    if not refs:
        raise ValidationError("--strategy", "give at least one strategy (a file or a shipped name)")
    if forbear is None:
        return [load(r) for r in refs]
    from forbear.services import strategies as service
    from forbear.services.templates import list_templates

    out = []
    with forbear.engine.connect() as conn:
        trans = conn.begin()
        try:
            codes = {t.code for t in list_templates(conn)}
            for ref in refs:
                ls = load(ref, codes or None)
                service.check(conn, ls.strategy, start, max_blocked_share=max_blocked)
                out.append(ls)
        finally:
            trans.rollback()  # a check writes nothing
    return out


def _minutes(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        channel, _, value = item.partition("=")
        try:
            minutes = float(value)
        except ValueError:
            raise ValidationError("--minutes", f"use CHANNEL=MINUTES, not {item!r}") from None
        if channel not in ("call", "visit", "legal_review") or minutes < 0:
            raise ValidationError(
                "--minutes", f"{item!r}: channel one of call, visit, legal_review; minutes >= 0"
            )
        out[channel] = minutes
    return out


@app.command("run")
def lab_run(
    strategy: Annotated[
        list[str],
        typer.Option(
            "--strategy",
            help="a strategy file or a shipped name (CN_default, CN_call_heavy); repeat",
        ),
    ],
    days: Annotated[int, typer.Option("--days", min=1, max=3650)] = 90,
    seeds: Annotated[int, typer.Option("--seeds", min=1, max=1000)] = 20,
    book: Annotated[str | None, _BOOK] = None,
    synthetic: Annotated[int | None, _SYNTHETIC] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="first simulated day")] = None,
    params: Annotated[Path | None, _PARAMS] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="write the HTML report here")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
    sensitivity: Annotated[
        bool,
        typer.Option("--sensitivity/--no-sensitivity", help="vary every assumption over its range"),
    ] = True,
    sens_seeds: Annotated[
        int, typer.Option("--sens-seeds", min=1, help="seeds per sensitivity run")
    ] = 3,
    sens_loans: Annotated[
        int | None,
        typer.Option(
            "--sens-loans",
            min=1,
            help="a synthetic population of N loans for the sensitivity runs "
            "(default: the same population)",
        ),
    ] = None,
    sens_days: Annotated[
        int | None,
        typer.Option("--sens-days", min=1, help="days per sensitivity run (default --days)"),
    ] = None,
    sens_params: Annotated[
        str | None,
        typer.Option("--sens-params", help="comma-separated parameters to vary (default: all)"),
    ] = None,
    minutes: Annotated[
        list[str], typer.Option("--minutes", help="agent minutes per task, e.g. call=8 (repeat)")
    ] = [],  # noqa: B006 - typer reads the default
    max_blocked: Annotated[float, typer.Option("--max-blocked", min=0.0, max=1.0)] = 0.3,
    seed: Annotated[int, typer.Option("--seed", help="first seed; seeds are seed .. seed+N-1")] = 1,
    population_seed: Annotated[
        int, typer.Option("--population-seed", help="the synthetic population's seed")
    ] = 1,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="processes")] = 1,
) -> None:
    """Run strategies day by day through the real strategy, gate and capacity against
    simulated borrowers; compare recovery, cost, complaints and opt-outs with intervals."""
    from forbear.sim.lab import run_lab
    from forbear.sim.lab.report import render, write
    from forbear.sim.lab.sensitivity import sensitivity as sens_run
    from forbear.sim.lab.stats import METRICS, summary

    minutes_map = _minutes(minutes)
    parameters = _params(params)
    only = [p.strip() for p in sens_params.split(",") if p.strip()] if sens_params else None
    if only:
        unknown = [p for p in only if p not in parameters.ranges()]
        if unknown:
            raise ValidationError("--sens-params", f"unknown parameters: {', '.join(unknown)}")
    population, start, forbear = _population(book, synthetic, as_of, population_seed)
    chosen = _strategies(strategy, forbear, start, max_blocked)
    seed_list = list(range(seed, seed + seeds))
    lab: dict[str, Any] = {"minutes": minutes_map, "max_blocked_share": max_blocked}
    result = run_lab(
        chosen,
        population,
        parameters,
        days,
        seed_list,
        start,
        progress=_say,
        workers=workers,
        **lab,
    )
    sens = None
    if sensitivity and report is not None:
        from forbear.sim.borrowers import Population

        s_pop = Population.synthetic(sens_loans, population_seed) if sens_loans else population
        s_days = sens_days or days
        s_seeds = seed_list[:sens_seeds]
        base = None
        if s_pop is population and s_days == days and s_seeds == seed_list:
            base = result
        sens = sens_run(
            chosen,
            s_pop,
            parameters,
            s_days,
            s_seeds,
            start,
            base=base,
            only=only,
            progress=_say,
            workers=workers,
            **lab,
        )
    table = summary(result)
    if report is not None:
        where = f"synthetic, {synthetic} loans" if synthetic else f"the book as of {start}"
        notes = [
            f"population: {where}",
            "strategies: " + ", ".join(f"{s.name} ({s.source})" for s in chosen),
        ]
        write(report, render(result, sens, notes=notes))
        _say(f"report written to {report}")
    if as_json:
        out = {
            "days": days,
            "seeds": seed_list,
            "start": start.isoformat(),
            "loans": result.loans,
            "borrowers": result.borrowers,
            "params_version": result.params_version,
            "summary": table.to_dicts(),
            "runs": [
                {
                    "strategy": r.strategy,
                    "seed": r.seed,
                    "totals": r.totals,
                    "world": r.world_totals,
                    "blocked_by_rule": r.blocked_by_rule,
                    "seconds": round(r.seconds, 3),
                }
                for r in result.runs
            ],
            "sensitivity": None
            if sens is None
            else {
                "changes_recovery_ranking": sens.changes("recovered_yuan"),
                "changes_complaints_ranking": sens.changes("complaints_per_10k"),
                "rows": sens.rows.to_dicts(),
            },
        }
        sys.stdout.write(json.dumps(out, ensure_ascii=False, indent=1, default=str) + "\n")
        return
    from rich.table import Table

    t = Table(title=f"{result.loans:,} loans, {days} days, {seeds} seeds (mean [95% interval])")
    t.add_column("指标 Metric")
    for name in result.strategies:
        t.add_column(name, justify="right")
    for metric, label in METRICS.items():
        cells = []
        for name in result.strategies:
            r = table.filter((table["strategy"] == name) & (table["metric"] == metric)).row(
                0, named=True
            )
            digits = 4 if metric == "recovery_rate" else (1 if "per_10k" in metric else 0)
            cells.append(
                f"{r['mean']:,.{digits}f}"
                if r["low"] is None
                else f"{r['mean']:,.{digits}f} [{r['low']:,.{digits}f}, {r['high']:,.{digits}f}]"
            )
        t.add_row(label, *cells)
    console.print(t)
    if sens is not None:
        changes = sens.changes("recovered_yuan")
        console.print(
            "assumptions that would change the recovery ranking 改变排名的假设: "
            + (", ".join(changes) if changes else "none")
        )


@app.command("search")
def lab_search(
    base: Annotated[
        str, typer.Option("--base", help="the base strategy: a file or a shipped name")
    ],
    space: Annotated[Path, typer.Option("--space", help="the space file: what may move")],
    to: Annotated[Path, typer.Option("--to", help="write the best strategy here")],
    trials: Annotated[int, typer.Option("--trials", min=1, max=10_000)] = 30,
    price_complaint: Annotated[
        float, typer.Option("--price-complaint", min=0.0, help="yuan charged per complaint")
    ] = 5000.0,
    price_contact: Annotated[
        float, typer.Option("--price-contact", min=0.0, help="yuan charged per contact")
    ] = 1.0,
    days: Annotated[int, typer.Option("--days", min=1, max=3650)] = 60,
    seeds: Annotated[int, typer.Option("--seeds", min=1, max=1000)] = 3,
    book: Annotated[str | None, _BOOK] = None,
    synthetic: Annotated[int | None, _SYNTHETIC] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="first simulated day")] = None,
    params: Annotated[Path | None, _PARAMS] = None,
    seed: Annotated[int, typer.Option("--seed", help="first seed, and the sampler's seed")] = 1,
    max_blocked: Annotated[float, typer.Option("--max-blocked", min=0.0, max=1.0)] = 0.3,
) -> None:
    """Search the moves a space file allows for the strategy with the most recovery net
    of the stated prices per complaint and per contact; write it as a strategy file."""
    from forbear.sim.lab.search import read_space, search
    from forbear.sim.lab.strategies import known_templates

    parameters = _params(params)
    population, start, forbear = _population(book, synthetic, as_of, seed)
    (base_ls,) = _strategies([base], forbear, start, max_blocked)
    moves = read_space(space, base_ls.strategy.text)
    if to.exists() and to.is_dir():
        raise ValidationError("--to", f"{to} is a directory")
    result = search(
        base_ls,
        moves,
        population,
        parameters,
        days,
        list(range(seed, seed + seeds)),
        start,
        trials=trials,
        price_complaint=price_complaint,
        price_contact=price_contact,
        templates=known_templates(),
        sampler_seed=seed,
        progress=_say,
        max_blocked_share=max_blocked,
    )
    to.parent.mkdir(parents=True, exist_ok=True)
    to.write_text(result.best_yaml, encoding="utf-8")
    gain = result.best_objective - result.base_objective
    console.print(
        f"base {base_ls.name}: objective {result.base_objective:,.0f}; "
        f"best {result.best_objective:,.0f} "
        f"({gain:+,.0f}) after {len(result.trials)} trials"
    )
    for k, v in result.best_values.items():
        console.print(f"  {k}: {v}")
    if not result.best_values:
        console.print("no trial beat the base strategy: the file written is the base")
    console.print(f"[green]✓[/] wrote {to} (check it on the book: forbear strategy check {to})")
