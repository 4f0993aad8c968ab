"""Adapter kinds: the name a channels file gives (``kind: smtp``) -> the adapter class
(:data:`forbear.channels.config.KINDS`, where the file's kinds are checked).

Each class has ``from_options(name, options, *, data_dir, secrets) -> adapter`` and is
imported only when a provider of its kind is configured: a kind whose module is missing
or broken fails with a :class:`~forbear.domain.errors.ConfigurationError` naming the
provider, and only then.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from forbear.channels.base import ChannelAdapter
from forbear.channels.config import KINDS, ProviderConfig
from forbear.domain.errors import ConfigurationError

__all__ = ["KINDS", "adapter_class", "build"]


def adapter_class(kind: str, provider: str = "?") -> Any:
    """The class of ``kind``, imported now."""
    target = KINDS.get(kind)
    if target is None:
        raise ConfigurationError(
            f"channel provider {provider!r}: unknown kind {kind!r} "
            f"(one of {', '.join(sorted(KINDS))})"
        )
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"channel provider {provider!r}: the {kind} adapter cannot be loaded ({exc.name})"
        ) from None
    found = getattr(module, class_name, None)
    if found is None or not hasattr(found, "from_options"):
        raise ConfigurationError(
            f"channel provider {provider!r}: {target} is not an adapter class with from_options"
        )
    return found


def build(
    provider: ProviderConfig, *, data_dir: Path, secrets: Mapping[str, str]
) -> ChannelAdapter:
    """The adapter of one configured provider."""
    cls = adapter_class(provider.kind, provider.name)
    adapter = cls.from_options(provider.name, provider.options, data_dir=data_dir, secrets=secrets)
    if not isinstance(adapter, ChannelAdapter):
        raise ConfigurationError(
            f"channel provider {provider.name!r}: the {provider.kind} adapter does not implement "
            "the channel protocol (name, rate_per_second, send, flush, close)"
        )
    return adapter
