"""Collection strategies: segments, treatments and experiments as data, compiled to Polars.

- :mod:`.schema`      the ACCOUNT / ACTIONS frame contracts and the vocabularies
- :mod:`.conditions`  the condition language (parse, never-holds check, to Polars)
- :mod:`.model`       strategy files: YAML -> pydantic, refusals with file, line and key
- :mod:`.compile`     ``compile_strategy``: ``assign`` and ``actions_for``

The shipped default is ``strategies/CN_default.yaml`` (:func:`default_strategy`).
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from forbear.domain.strategy.compile import CompiledStrategy, compile_strategy
from forbear.domain.strategy.model import Strategy, StrategyRejected, parse_strategy

DEFAULT_NAME = "CN_default"


def default_text() -> str:
    return (resources.files(__package__) / "strategies" / f"{DEFAULT_NAME}.yaml").read_text(
        encoding="utf-8"
    )


def default_strategy(known_templates: Iterable[str] = ()) -> Strategy:
    return parse_strategy(default_text(), f"{DEFAULT_NAME}.yaml", known_templates)


def load_strategy(path: Path, known_templates: Iterable[str] = ()) -> Strategy:
    """Read and validate a strategy file (the caller does the reading in services; this
    is a convenience for tools and tests)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise StrategyRejected(str(path), None, "", f"cannot read the file: {e.strerror}") from None
    return parse_strategy(text, str(path), known_templates)


__all__ = [
    "CompiledStrategy",
    "Strategy",
    "StrategyRejected",
    "compile_strategy",
    "default_strategy",
    "default_text",
    "load_strategy",
    "parse_strategy",
]
