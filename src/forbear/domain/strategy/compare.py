"""What differs between two strategies (issue 15, item 8): segments (added, removed, their
condition, treatment or order changed), treatments (added, removed, channels and cadence
changed), experiments. Pure: the web page tells the differences in words.
"""

from __future__ import annotations

from dataclasses import dataclass

from forbear.domain.strategy.conditions import Condition
from forbear.domain.strategy.model import ActionSpec, Strategy, TreatmentSpec


@dataclass(frozen=True)
class SegmentChange:
    id: str
    kind: str  # added | removed | changed
    old_when: Condition | None
    new_when: Condition | None
    old_treatment: str | None
    new_treatment: str | None
    old_position: int | None  # 1-based order in which segments are tried
    new_position: int | None

    @property
    def condition_changed(self) -> bool:
        return self.kind == "changed" and self.old_when != self.new_when

    @property
    def treatment_changed(self) -> bool:
        return self.kind == "changed" and self.old_treatment != self.new_treatment

    @property
    def moved(self) -> bool:
        return self.kind == "changed" and self.old_position != self.new_position


@dataclass(frozen=True)
class TreatmentChange:
    id: str
    kind: str  # added | removed | changed
    channels_added: tuple[str, ...]
    channels_removed: tuple[str, ...]
    old_actions: tuple[ActionSpec, ...]
    new_actions: tuple[ActionSpec, ...]
    old_stop_on: tuple[str, ...]
    new_stop_on: tuple[str, ...]

    @property
    def cadence_changed(self) -> bool:
        return self.kind == "changed" and self.old_actions != self.new_actions


@dataclass(frozen=True)
class ExperimentChange:
    id: str
    kind: str  # added | removed | changed
    old: tuple[tuple[str, str, float], ...]  # (arm, treatment, share)
    new: tuple[tuple[str, str, float], ...]


@dataclass(frozen=True)
class StrategyDiff:
    segments: tuple[SegmentChange, ...]
    treatments: tuple[TreatmentChange, ...]
    experiments: tuple[ExperimentChange, ...]

    @property
    def same(self) -> bool:
        return not (self.segments or self.treatments or self.experiments)


def _channels(t: TreatmentSpec | None) -> set[str]:
    return {a.channel.value for a in t.actions} if t else set()


def compare(old: Strategy, new: Strategy) -> StrategyDiff:
    """The differences from ``old`` to ``new``."""
    old_pos = {s.id: i + 1 for i, s in enumerate(old.spec.segments)}
    new_pos = {s.id: i + 1 for i, s in enumerate(new.spec.segments)}
    old_seg = {s.id: s for s in old.spec.segments}
    new_seg = {s.id: s for s in new.spec.segments}
    segments: list[SegmentChange] = []
    for sid in [*old_pos, *(s for s in new_pos if s not in old_pos)]:
        a, b = old_seg.get(sid), new_seg.get(sid)
        kind = "added" if a is None else "removed" if b is None else "changed"
        change = SegmentChange(
            id=sid,
            kind=kind,
            old_when=old.conditions.get(sid),
            new_when=new.conditions.get(sid),
            old_treatment=a.treatment if a else None,
            new_treatment=b.treatment if b else None,
            old_position=old_pos.get(sid),
            new_position=new_pos.get(sid),
        )
        if kind != "changed" or (
            change.condition_changed or change.treatment_changed or change.moved
        ):
            segments.append(change)
    old_t = {t.id: t for t in old.spec.treatments}
    new_t = {t.id: t for t in new.spec.treatments}
    treatments: list[TreatmentChange] = []
    for tid in [*old_t, *(t for t in new_t if t not in old_t)]:
        x, y = old_t.get(tid), new_t.get(tid)
        kind = "added" if x is None else "removed" if y is None else "changed"
        if kind == "changed" and x == y:
            continue
        treatments.append(
            TreatmentChange(
                id=tid,
                kind=kind,
                channels_added=tuple(sorted(_channels(y) - _channels(x))),
                channels_removed=tuple(sorted(_channels(x) - _channels(y))),
                old_actions=tuple(x.actions) if x else (),
                new_actions=tuple(y.actions) if y else (),
                old_stop_on=tuple(s.value for s in x.stop_on) if x else (),
                new_stop_on=tuple(s.value for s in y.stop_on) if y else (),
            )
        )
    old_e = {e.id: e for e in old.spec.experiments}
    new_e = {e.id: e for e in new.spec.experiments}
    experiments: list[ExperimentChange] = []
    for eid in [*old_e, *(e for e in new_e if e not in old_e)]:
        p, q = old_e.get(eid), new_e.get(eid)
        if p == q:
            continue
        experiments.append(
            ExperimentChange(
                id=eid,
                kind="added" if p is None else "removed" if q is None else "changed",
                old=tuple((a.name, a.treatment, a.share) for a in p.arms) if p else (),
                new=tuple((a.name, a.treatment, a.share) for a in q.arms) if q else (),
            )
        )
    return StrategyDiff(tuple(segments), tuple(treatments), tuple(experiments))
