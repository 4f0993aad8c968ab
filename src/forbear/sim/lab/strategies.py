"""Strategy files for the lab: a path, or the name of a shipped strategy
(``CN_default``, ``CN_call_heavy``), validated as ``forbear strategy check`` validates
them (the file's schema, its conditions, and its template codes against the shipped
template library, or the database's templates when the caller passes them)."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from forbear.domain.strategy import StrategyRejected, parse_strategy
from forbear.sim.lab.run import LabStrategy


def shipped_names() -> list[str]:
    folder = resources.files("forbear.domain.strategy") / "strategies"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def shipped_text(name: str) -> str:
    return (resources.files("forbear.domain.strategy") / "strategies" / f"{name}.yaml").read_text(
        encoding="utf-8"
    )


def known_templates() -> set[str]:
    """The codes of the shipped template library (the templates ``forbear demo``
    installs)."""
    from forbear.services.templates import library

    return {t["code"] for t in library()}


def load(ref: str, templates: Iterable[str] | None = None) -> LabStrategy:
    """A strategy by path or shipped name; :class:`StrategyRejected` names the file, line,
    key and reason when it is not a valid strategy."""
    codes = set(templates) if templates is not None else known_templates()
    path = Path(ref)
    if not path.exists() and ref in shipped_names():
        text, source = shipped_text(ref), f"{ref}.yaml (shipped)"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            shipped = ", ".join(shipped_names())
            raise StrategyRejected(
                ref, None, "", f"cannot read the file ({e.strerror}); shipped names: {shipped}"
            ) from None
        source = str(path)
    strategy = parse_strategy(text, source, codes)
    return LabStrategy(name=strategy.name, strategy=strategy, source=source)
