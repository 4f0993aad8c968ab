"""The content filter's corpus and its evaluation (issue 17).

``train.yaml`` is what the lexicons are tuned on and the semantic classifier is fitted on;
``eval.yaml`` is held apart. :func:`load` reads either (or any file of the same format) and
refuses a malformed one naming the item and key; :func:`evaluate` runs the filter over the
items and counts, per layer and per language, what was caught and what was wrongly flagged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from forbear.domain.compliance.content.vocabulary import LAYERS, Category, Lang, Violation
from forbear.domain.errors import ValidationError

CLEAN = "clean"
LABELS = (CLEAN, *(c.value for c in Category))


@dataclass(frozen=True, slots=True)
class Item:
    text: str
    lang: Lang
    label: str  # "clean" or a Category value
    kind: str
    line: int  # the item's line in its file, for messages

    @property
    def violating(self) -> bool:
        return self.label != CLEAN


def packaged(name: str) -> Path:
    """``train`` or ``eval``: the packaged split's path."""
    return Path(str(resources.files(__package__).joinpath(f"{name}.yaml")))


class _Loader(yaml.SafeLoader):
    pass


def _mapping_with_line(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[str, Any]:
    data = {str(k): v for k, v in loader.construct_mapping(node, deep=True).items()}
    data["__line__"] = node.start_mark.line + 1
    return data


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


def load(path: Path) -> list[Item]:
    """The items of a corpus file; :class:`ValidationError` names the file, the line and
    the key of the first bad item."""
    name = path.name
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(name, f"cannot read as UTF-8 text ({type(exc).__name__})") from None
    try:
        data = yaml.load(source, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ValidationError(name, f"not YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ValidationError(name, "expected a mapping with a list under 'items'")
    items: list[Item] = []
    for number, raw in enumerate(data["items"], start=1):
        if not isinstance(raw, dict):
            raise ValidationError(name, f"item {number}: expected a mapping")
        line = raw.get("__line__", 0)
        where = f"line {line} (item {number})"
        text, lang, label = raw.get("text"), raw.get("lang"), raw.get("label")
        if not isinstance(text, str) or not text.strip():
            raise ValidationError(name, f"{where}: key 'text' must be a non-empty string")
        if lang not in ("zh", "en"):
            raise ValidationError(name, f"{where}: key 'lang' must be zh or en")
        if label not in LABELS:
            raise ValidationError(name, f"{where}: key 'label' must be one of {', '.join(LABELS)}")
        items.append(Item(text, lang, label, str(raw.get("kind") or "other"), line))
    if not items:
        raise ValidationError(name, "no items")
    return items


# ---------------------------------------------------------------- evaluation


@dataclass
class Counts:
    """Texts flagged and missed for one slice (a layer, a language, or all)."""

    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0
    category_right: int = 0

    @property
    def precision(self) -> float | None:
        flagged = self.true_positive + self.false_positive
        return self.true_positive / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        positive = self.true_positive + self.false_negative
        return self.true_positive / positive if positive else None


@dataclass
class Report:
    items: int
    violating: int
    overall: Counts
    by_layer: dict[str, Counts]
    by_language: dict[str, Counts]
    by_layer_language: dict[tuple[str, str], Counts]
    false_positives: list[tuple[Item, list[Violation]]] = field(default_factory=list)
    misses: list[Item] = field(default_factory=list)
    polite: int = 0


def evaluate(items: Sequence[Item], check: Callable[[Item], list[Violation]]) -> Report:
    """Run ``check`` on every item. A violating item is caught when anything is found
    (``category_right`` counts the ones whose category was among the findings); a clean
    item flagged is a false positive. Per layer: what that layer alone found."""
    overall = Counts()
    by_layer: dict[str, Counts] = {layer: Counts() for layer in LAYERS if layer != "rule"}
    by_language: dict[str, Counts] = {}
    by_both: dict[tuple[str, str], Counts] = {}
    report = Report(
        len(items), sum(i.violating for i in items), overall, by_layer, by_language, by_both
    )
    for item in items:
        found = [v for v in check(item) if v.layer != "rule"]
        language = by_language.setdefault(item.lang, Counts())
        slices = [(overall, found), (language, found)]
        for layer, counts in by_layer.items():
            mine = [v for v in found if v.layer == layer]
            slices.append((counts, mine))
            slices.append((by_both.setdefault((layer, item.lang), Counts()), mine))
        for counts, mine in slices:
            if item.violating and mine:
                counts.true_positive += 1
                if any(v.category.value == item.label for v in mine):
                    counts.category_right += 1
            elif item.violating:
                counts.false_negative += 1
            elif mine:
                counts.false_positive += 1
        if not item.violating:
            report.polite += 1
            if found:
                report.false_positives.append((item, found))
        elif not found:
            report.misses.append(item)
    return report
