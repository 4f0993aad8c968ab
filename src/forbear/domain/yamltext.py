"""YAML text read with libyaml's C loader where PyYAML was built with it (it is, in the
wheels on PyPI), the pure-Python loader otherwise: the same safe subset and the same
marks (line numbers in errors and nodes), about ten times faster. Every command reads
the packs, the strategy, the roles and the policies on start, so this is on the path of
every ``forbear`` invocation and of the daily run."""

from __future__ import annotations

from typing import Any

import yaml

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str) -> Any:
    """``yaml.safe_load``, with the C loader when present."""
    return yaml.load(text, Loader=_LOADER)


def compose(text: str) -> Any:
    """``yaml.compose`` (the node tree, with marks), with the C loader when present."""
    return yaml.compose(text, Loader=_LOADER)
