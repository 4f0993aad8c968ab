"""Strategy files: YAML validated with pydantic; every refusal names the file, line and key.

Format (see ``strategies/CN_default.yaml`` for a full example)::

    name: CN_default
    version_note: friendly first
    segments:                      # ordered: the first whose ``when`` holds wins
      - id: hold
        when: hold_any             # conditions: see forbear.domain.strategy.conditions
        treatment: no_action
    treatments:
      - id: m1_gentle
        stop_on: [payment, promise, plan]
        actions:
          - {day: 0, channel: sms, template: CN.M1.REMIND, purpose: remind}
          - {on_dpd: 7, channel: call, template: CN.M1.FOLLOWUP, purpose: follow_up}
    experiments:
      - id: m1_earlier_call
        segment: m1
        arms:
          - {name: champion, treatment: m1_gentle, share: 0.45}
          - {name: challenger, treatment: m1_early_call, share: 0.45}
          - {name: control, treatment: m1_gentle, share: 0.10}

An action has ``day`` (days since the account entered the segment) or ``on_dpd`` (the
day the account reaches that many days past due), never both; ``every: N`` repeats a
``day`` action every N days from that day (``day`` defaults to 0: days 0, N, 2N, ...);
``legally_required: true``
marks a notice the law requires (the only action a control-arm account receives).

A ``locate`` action (issue 17) asks the debtor's emergency contact to have the debtor call
back, with no word of the debt: it goes to an emergency contact point, not the debtor's,
by ``call`` (the location script) or ``sms`` (an approved ``third_party`` template), and
the gate judges it by the pack's third-party rules (CN.3P.*). It is never a legally
required notice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from forbear.domain import yamltext
from forbear.domain.errors import ForbearError
from forbear.domain.strategy import conditions as cond
from forbear.domain.strategy.schema import (
    CONTROL_ARM,
    LOCATE_CHANNELS,
    Purpose,
    StopOn,
    StrategyChannel,
)

_ID = r"^[a-z][a-z0-9_]*$"
SHARE_TOLERANCE = 1e-9


class StrategyRejected(ForbearError):
    """A strategy file is unusable; ``source``, ``line`` and ``key`` say where."""

    def __init__(self, source: str, line: int | None, key: str, reason: str) -> None:
        where = f"{source}, line {line}" if line is not None else source
        super().__init__(f"{where}, {key or '(top)'}: {reason}")
        self.source = source
        self.line = line
        self.key = key
        self.reason = reason


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActionSpec(_Strict):
    day: int | None = None
    on_dpd: int | None = None
    every: int | None = None
    channel: StrategyChannel
    template: str = Field(min_length=1, max_length=100)
    purpose: Purpose
    legally_required: bool = False

    @model_validator(mode="after")
    def _one_timing(self) -> ActionSpec:
        if self.on_dpd is not None and (self.day is not None or self.every is not None):
            raise ValueError("on_dpd goes alone: give on_dpd, or day and/or every")
        if self.on_dpd is None and self.day is None and self.every is None:
            raise ValueError("give one of day, on_dpd or every")
        return self


class TreatmentSpec(_Strict):
    id: str = Field(pattern=_ID)
    actions: list[ActionSpec] = []
    stop_on: list[StopOn] = []


class SegmentSpec(_Strict):
    id: str = Field(pattern=_ID)
    when: Any = "always"
    treatment: str


class ArmSpec(_Strict):
    name: str = Field(pattern=_ID)
    treatment: str
    share: float = Field(gt=0, le=1)


class ExperimentSpec(_Strict):
    id: str = Field(pattern=_ID)
    segment: str
    arms: list[ArmSpec] = Field(min_length=2)


class StrategySpec(_Strict):
    name: str = Field(min_length=1, max_length=100)
    version_note: str = ""
    segments: list[SegmentSpec] = Field(min_length=1)
    treatments: list[TreatmentSpec] = Field(min_length=1)
    experiments: list[ExperimentSpec] = []
    # the built-in plan-only rule's reminder (DESIGN: promises/plans get only reminders)
    plan_reminder_template: str = "CN.PLAN.REMIND"


@dataclass(frozen=True)
class Strategy:
    """A validated strategy: the spec, its parsed conditions and where it came from."""

    spec: StrategySpec
    conditions: dict[str, cond.Condition]  # segment id -> condition
    source: str
    text: str = field(repr=False, default="")

    @property
    def name(self) -> str:
        return self.spec.name


# --- loading with line numbers ------------------------------------------------------------

Path_ = tuple[str | int, ...]


def _marks(node: yaml.Node, path: Path_, out: dict[Path_, int]) -> None:
    """Record the line of every key and list item under ``node`` by its key path."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = (*path, str(k.value))
            out[key] = k.start_mark.line + 1
            _marks(v, key, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*path, i)] = item.start_mark.line + 1
            _marks(item, (*path, i), out)


def _line(marks: dict[Path_, int], path: Path_) -> int | None:
    p = tuple(path)
    while p:
        if p in marks:
            return marks[p]
        p = p[:-1]
    return marks.get(())


def _key(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_strategy(
    text: str, source: str = "strategy.yaml", known_templates: Iterable[str] = ()
) -> Strategy:
    """Validate a strategy file's text; raise :class:`StrategyRejected` naming line and key.

    ``known_templates``: template codes that exist; empty = do not check codes.
    """
    try:
        node = yamltext.compose(text)
        raw = yamltext.load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise StrategyRejected(source, line, "", f"not valid YAML: {e}") from None
    if not isinstance(raw, dict) or node is None:
        raise StrategyRejected(source, 1, "", "a strategy file is a YAML mapping")
    marks: dict[Path_, int] = {(): 1}
    _marks(node, (), marks)

    def reject(path: Path_, reason: str) -> StrategyRejected:
        return StrategyRejected(source, _line(marks, path), _key(path), reason)

    try:
        spec = StrategySpec.model_validate(raw)
    except PydanticValidationError as e:
        err = e.errors()[0]
        loc = tuple(x for x in err["loc"] if not (isinstance(x, str) and "[" in x))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "enum":
            msg = f"unknown value {err.get('input')!r}: {msg}"
        raise reject(loc, msg) from None

    treatments = {t.id: t for t in spec.treatments}
    _unique(spec.treatments, "treatments", "id", reject)
    _unique(spec.segments, "segments", "id", reject)
    known = set(known_templates)
    for ti, t in enumerate(spec.treatments):
        for ai, a in enumerate(t.actions):
            where: Path_ = ("treatments", ti, "actions", ai)
            if a.day is not None and a.day < 0:
                raise reject((*where, "day"), "a day offset cannot be negative")
            if a.on_dpd is not None and a.on_dpd < 0:
                raise reject((*where, "on_dpd"), "on_dpd cannot be negative")
            if a.every is not None and a.every < 1:
                raise reject((*where, "every"), "every is a number of days, at least 1")
            if a.purpose is Purpose.LOCATE:
                if a.channel not in LOCATE_CHANNELS:
                    allowed = ", ".join(sorted(c.value for c in LOCATE_CHANNELS))
                    raise reject(
                        (*where, "channel"),
                        f"a locate action goes to an emergency contact by {allowed}, "
                        f"not {a.channel.value}",
                    )
                if a.legally_required:
                    raise reject(
                        (*where, "legally_required"),
                        "a locate action is not a notice the law requires",
                    )
            # a legal review is an internal task, not a message: its code names a checklist
            if known and a.channel != "legal_review" and a.template not in known:
                raise reject((*where, "template"), f"unknown template code {a.template!r}")
    if known and spec.plan_reminder_template not in known:
        raise reject(
            ("plan_reminder_template",),
            f"unknown template code {spec.plan_reminder_template!r}",
        )

    conditions: dict[str, cond.Condition] = {}
    for si, s in enumerate(spec.segments):
        if s.treatment not in treatments:
            raise reject(("segments", si, "treatment"), f"unknown treatment {s.treatment!r}")
        base: Path_ = ("segments", si, "when")
        try:
            c = cond.parse(s.when)
        except cond.ConditionError as e:
            raise reject((*base, *e.path), e.reason) from None
        dead = cond.never_holds(c)
        if dead is not None:
            raise reject(
                (*base, *dead.path), f"this condition can never hold: {cond.describe(dead)}"
            )
        conditions[s.id] = c

    segment_ids = {s.id for s in spec.segments}
    seen_segments: set[str] = set()
    _unique(spec.experiments, "experiments", "id", reject)
    for ei, x in enumerate(spec.experiments):
        where = ("experiments", ei)
        if x.segment not in segment_ids:
            raise reject((*where, "segment"), f"unknown segment {x.segment!r}")
        if x.segment in seen_segments:
            raise reject((*where, "segment"), f"segment {x.segment!r} has two experiments")
        seen_segments.add(x.segment)
        names = [a.name for a in x.arms]
        if CONTROL_ARM not in names:
            raise reject((*where, "arms"), "an experiment needs a 'control' hold-out arm")
        if len(set(names)) != len(names):
            raise reject((*where, "arms"), "arm names must be unique")
        for ai, arm in enumerate(x.arms):
            if arm.treatment not in treatments:
                raise reject(
                    (*where, "arms", ai, "treatment"), f"unknown treatment {arm.treatment!r}"
                )
        total = math.fsum(a.share for a in x.arms)
        if abs(total - 1.0) > SHARE_TOLERANCE:
            raise reject((*where, "arms"), f"the shares add up to {total:g}, not 1")
    return Strategy(spec=spec, conditions=conditions, source=source, text=text)


def _unique(items: list[Any], section: str, attr: str, reject: Any) -> None:
    seen: set[str] = set()
    for i, item in enumerate(items):
        v = getattr(item, attr)
        if v in seen:
            raise reject((section, i, attr), f"duplicate {attr} {v!r}")
        seen.add(v)
