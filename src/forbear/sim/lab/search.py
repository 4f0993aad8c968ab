"""The search for a better strategy (``forbear lab search``): given a base strategy and a
*space file* naming what the manager allows to move, Optuna's TPE sampler (seeded) tries
strategies in the lab and keeps the one with the highest

    objective = mean over seeds of (recovered yuan
                                    - price_complaint x complaints
                                    - price_contact x contacts)

subject to capacity (the lab runs the real allocation: what does not fit is not
delivered) and the rules (the real gate; a trial with a violation, or one the gate would
block wholesale, is infeasible). The result is a strategy file that passes the same
validation as ``forbear strategy check``.

The space file (YAML)::

    moves:
      - id: m1_call_day              # a name for the report
        kind: cadence                # cadence | channel | plan | escalation
        path: treatments[m1_gentle].actions[4].on_dpd
        int: [4, 14]                 # an integer in [low, high]
      - id: m1_voice
        kind: channel
        path: treatments[m1_gentle].actions[3]
        choices:                     # one of these mappings is merged into the action;
          - {channel: ai_call, template: CN.M1.AI_VOICE}
          - {channel: sms, template: CN.M1.REMIND.SMS}
          - {drop: true}             # or the action is removed
      - id: plan_when
        kind: plan
        path: segments[m1_hardship].when.all[2].any[1]
        float: [0.05, 0.5]
        format: "propensity < {value:.2f}"   # the value written into a condition

A path walks the strategy's YAML: ``name`` for a key, ``[n]`` for a list position, and
``[some_id]`` for the list item whose ``id`` is ``some_id``.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from forbear.domain.errors import ForbearError
from forbear.domain.strategy import StrategyRejected, parse_strategy
from forbear.sim.lab.run import LabStrategy, StrategyBlocked, run_lab

KINDS = ("cadence", "channel", "plan", "escalation")
_MOVE_KEYS = {"id", "kind", "path", "int", "float", "choices", "format"}
_TOKEN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)?((?:\[[^\[\]]+\])*)$")


class SpaceError(ForbearError):
    """A space file is unusable: the file, the key and the reason."""

    def __init__(self, source: str, key: str, reason: str) -> None:
        super().__init__(f"{source}, {key or '(top)'}: {reason}")
        self.source, self.key, self.reason = source, key, reason


@dataclass(frozen=True)
class Move:
    id: str
    kind: str
    path: tuple[str | int, ...]  # resolved: keys and list positions
    low: float | None = None
    high: float | None = None
    integer: bool = False
    choices: tuple[Any, ...] = ()
    format: str | None = None


@dataclass
class SearchResult:
    best_yaml: str
    best_values: dict[str, Any]
    best_objective: float
    base_objective: float
    trials: list[dict[str, Any]] = field(default_factory=list)
    best_totals: dict[str, float] = field(default_factory=dict)
    base_totals: dict[str, float] = field(default_factory=dict)


def _split(path: str, source: str, key: str) -> list[str | tuple[str]]:
    """``a.b[2][x].c`` -> ['a', 'b', (2,)..]: names, and bracketed selectors as 1-tuples."""
    parts: list[str | tuple[str]] = []
    for token in path.split("."):
        m = _TOKEN.match(token.strip())
        if not m or (not m.group(1) and not m.group(2)):
            raise SpaceError(source, key, f"cannot read the path {path!r} at {token!r}")
        if m.group(1):
            parts.append(m.group(1))
        parts.extend((s,) for s in re.findall(r"\[([^\[\]]+)\]", m.group(2)))
    return parts


def _resolve(doc: Any, path: str, source: str, key: str) -> tuple[str | int, ...]:
    out: list[str | int] = []
    node = doc
    for part in _split(path, source, key):
        where = ".".join(str(p) for p in out) or "(top)"
        if isinstance(part, str):
            if not isinstance(node, dict) or part not in node:
                raise SpaceError(source, key, f"the base strategy has no {part!r} under {where}")
            out.append(part)
            node = node[part]
            continue
        sel = part[0].strip()
        if not isinstance(node, list):
            raise SpaceError(source, key, f"{where} is not a list, cannot select [{sel}]")
        if re.fullmatch(r"-?\d+", sel):
            i = int(sel)
            if not 0 <= i < len(node):
                raise SpaceError(source, key, f"{where} has {len(node)} items, no [{i}]")
        else:
            ids = [it.get("id") if isinstance(it, dict) else None for it in node]
            if sel not in ids:
                raise SpaceError(source, key, f"{where} has no item with id {sel!r}")
            i = ids.index(sel)
        out.append(i)
        node = node[i]
    return tuple(out)


def _get(doc: Any, path: tuple[str | int, ...]) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def load_space(text: str, source: str, base_text: str) -> list[Move]:
    """Validate a space file against the base strategy's YAML."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise SpaceError(source, "", f"not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise SpaceError(source, "", "a space file is a mapping with a 'moves' list")
    unknown = sorted(set(raw) - {"moves", "version"})
    if unknown:
        raise SpaceError(source, unknown[0], "unknown field")
    moves = raw.get("moves")
    if not isinstance(moves, list) or not moves:
        raise SpaceError(source, "moves", "a non-empty list of moves is required")
    base = yaml.safe_load(base_text)
    out: list[Move] = []
    seen: set[str] = set()
    for i, m in enumerate(moves):
        key = f"moves[{i}]"
        if not isinstance(m, dict):
            raise SpaceError(source, key, "a move is a mapping")
        extra = sorted(set(m) - _MOVE_KEYS)
        if extra:
            raise SpaceError(source, f"{key}.{extra[0]}", "unknown field")
        ident = m.get("id")
        if not isinstance(ident, str) or not ident:
            raise SpaceError(source, f"{key}.id", "required (a name for the move)")
        if ident in seen:
            raise SpaceError(source, f"{key}.id", f"duplicate id {ident!r}")
        seen.add(ident)
        kind = m.get("kind")
        if kind not in KINDS:
            raise SpaceError(source, f"{key}.kind", f"must be one of {', '.join(KINDS)}")
        if not isinstance(m.get("path"), str):
            raise SpaceError(source, f"{key}.path", "required (where in the strategy)")
        path = _resolve(base, m["path"], source, f"{key}.path")
        current = _get(base, path)
        given = [k for k in ("int", "float", "choices") if k in m]
        if len(given) != 1:
            raise SpaceError(source, key, "give exactly one of int, float or choices")
        fmt = m.get("format")
        if fmt is not None and (not isinstance(fmt, str) or "{value" not in fmt):
            raise SpaceError(source, f"{key}.format", "a text with {value} in it")
        if fmt is not None:
            try:
                fmt.format(value=1)
            except (ValueError, KeyError, IndexError) as e:
                raise SpaceError(source, f"{key}.format", f"cannot format a value: {e}") from None
        if given[0] == "choices":
            choices = m["choices"]
            if not isinstance(choices, list) or not choices:
                raise SpaceError(source, f"{key}.choices", "a non-empty list")
            for j, c in enumerate(choices):
                if isinstance(current, dict) and not isinstance(c, dict):
                    raise SpaceError(
                        source, f"{key}.choices[{j}]", "the path names a mapping: give mappings"
                    )
            out.append(Move(ident, kind, path, choices=tuple(choices), format=fmt))
            continue
        bounds = m[given[0]]
        if (
            not isinstance(bounds, list)
            or len(bounds) != 2
            or not all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
        ):
            raise SpaceError(source, f"{key}.{given[0]}", "a [low, high] pair of numbers")
        low, high = float(bounds[0]), float(bounds[1])
        if not (math.isfinite(low) and math.isfinite(high)) or low > high:
            raise SpaceError(source, f"{key}.{given[0]}", f"low {low:g} is above high {high:g}")
        integer = given[0] == "int"
        if integer and not (low.is_integer() and high.is_integer()):
            raise SpaceError(source, f"{key}.int", "integer bounds")
        if fmt is None and not isinstance(current, int | float):
            raise SpaceError(
                source,
                f"{key}.path",
                f"the value there is {type(current).__name__}, not a number: give a format",
            )
        out.append(Move(ident, kind, path, low, high, integer, format=fmt))
    # every extreme must give a valid strategy
    for i, mv in enumerate(out):
        for value in _extremes(mv):
            text = apply(base_text, out[i : i + 1], {mv.id: value})
            try:
                parse_strategy(text, source)
            except StrategyRejected as e:
                raise SpaceError(
                    source, f"moves[{i}]", f"at {value!r} the strategy is not valid: {e.reason}"
                ) from None
    return out


def _extremes(mv: Move) -> list[Any]:
    if mv.choices:
        return list(range(len(mv.choices)))
    assert mv.low is not None and mv.high is not None
    if mv.integer:
        return [int(mv.low), int(mv.high)]
    return [mv.low, mv.high]


def apply(base_text: str, moves: Sequence[Move], values: dict[str, Any]) -> str:
    """The base strategy with the moves set to ``values`` (choices by their position),
    as YAML text."""
    doc = copy.deepcopy(yaml.safe_load(base_text))
    drops: list[tuple[str | int, ...]] = []
    for mv in moves:
        if mv.id not in values:
            continue
        v = values[mv.id]
        parent = _get(doc, mv.path[:-1])
        last = mv.path[-1]
        if mv.choices:
            choice = copy.deepcopy(mv.choices[int(v)])
            if isinstance(choice, dict) and choice.get("drop") is True:
                drops.append(mv.path)
            elif isinstance(choice, dict) and isinstance(parent[last], dict):
                parent[last] = {**parent[last], **choice}
            else:
                parent[last] = choice
            continue
        number = int(v) if mv.integer else float(v)
        parent[last] = mv.format.format(value=number) if mv.format else number
    # remove dropped items, per list from the last position down, so positions stay valid
    for path in sorted(drops, key=lambda p: (str(p[:-1]), p[-1]), reverse=True):
        del _get(doc, path[:-1])[path[-1]]
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100)


def objective(
    totals: Sequence[dict[str, float]], price_complaint: float, price_contact: float
) -> float:
    values = [
        t["recovered_yuan"] - price_complaint * t["complaints"] - price_contact * t["contacts"]
        for t in totals
    ]
    return math.fsum(values) / len(values)


def search(
    base: LabStrategy,
    moves: Sequence[Move],
    population: Any,
    params: Any,
    days: int,
    seeds: Sequence[int],
    start: date,
    *,
    trials: int,
    price_complaint: float,
    price_contact: float,
    templates: set[str] | None = None,
    sampler_seed: int = 0,
    progress: Callable[[str], None] | None = None,
    **lab: Any,
) -> SearchResult:
    """Run the base, then ``trials`` candidate strategies (Optuna TPE, seeded), and return
    the best as YAML (validated with ``templates``)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    base_text = base.strategy.text or yaml.safe_dump(base.strategy.spec.model_dump())
    codes = templates or set()

    def evaluate(text: str) -> tuple[float, dict[str, float]] | None:
        strategy = parse_strategy(text, f"{base.name} (search)", codes)
        ls = LabStrategy(name=strategy.name, strategy=strategy)
        try:
            result = run_lab([ls], population, params, days, seeds, start, **lab)
        except StrategyBlocked:
            return None
        totals = [r.totals for r in result.runs]
        if any(t["violations"] for t in totals):
            return None
        mean = {k: math.fsum(t.get(k, 0.0) for t in totals) / len(totals) for k in totals[0]}
        return objective(totals, price_complaint, price_contact), mean

    base_eval = evaluate(base_text)
    if base_eval is None:
        raise ForbearError(f"the base strategy {base.name} cannot run in the lab (blocked)")
    base_value, base_totals = base_eval
    history: list[dict[str, Any]] = []
    best: tuple[float, dict[str, Any], str, dict[str, float]] = (
        base_value,
        {},
        base_text,
        base_totals,
    )

    def trial_fn(trial: Any) -> float:
        nonlocal best
        values: dict[str, Any] = {}
        for mv in moves:
            if mv.choices:
                values[mv.id] = trial.suggest_categorical(mv.id, list(range(len(mv.choices))))
            elif mv.integer:
                values[mv.id] = trial.suggest_int(mv.id, int(mv.low or 0), int(mv.high or 0))
            else:
                values[mv.id] = trial.suggest_float(mv.id, float(mv.low or 0), float(mv.high or 0))
        text = apply(base_text, moves, values)
        try:
            evaluated = evaluate(text)
        except StrategyRejected:
            evaluated = None
        shown = {mv.id: mv.choices[values[mv.id]] if mv.choices else values[mv.id] for mv in moves}
        if evaluated is None:
            history.append({"trial": trial.number, "values": shown, "objective": None})
            raise optuna.TrialPruned()
        value, totals = evaluated
        history.append({"trial": trial.number, "values": shown, "objective": value})
        if value > best[0]:
            best = (value, shown, text, totals)
        if progress:
            progress(f"trial {trial.number}: objective {value:,.0f} (best {best[0]:,.0f})")
        return value

    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=sampler_seed)
    )
    study.optimize(trial_fn, n_trials=trials)
    value, shown, text, totals = best
    doc = yaml.safe_load(text)
    if shown:
        doc["name"] = f"{base.strategy.name}_searched"
        doc["version_note"] = (
            f"found by forbear lab search from {base.strategy.name}: objective "
            f"{value:,.0f} vs {base_value:,.0f} for the base"
        )
    header = (
        f"# forbear lab search: base {base.strategy.name}, {len(history)} trials, {days} days, "
        f"{len(seeds)} seeds\n# objective = recovered yuan - {price_complaint:g} x complaints - "
        f"{price_contact:g} x contacts: best {value:,.2f}, base {base_value:,.2f}\n"
        + "".join(f"# {k}: {v!r}\n" for k, v in shown.items())
    )
    best_yaml = header + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100)
    parse_strategy(best_yaml, "search result", codes)  # the result is a valid strategy
    return SearchResult(
        best_yaml=best_yaml,
        best_values=shown,
        best_objective=value,
        base_objective=base_value,
        trials=history,
        best_totals=totals,
        base_totals=base_totals,
    )


def read_space(path: Path, base_text: str) -> list[Move]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SpaceError(str(path), "", f"cannot read the file: {e.strerror}") from None
    return load_space(text, str(path), base_text)
