"""Header contract: English names, accepted Chinese aliases, required columns."""

from __future__ import annotations

from dataclasses import dataclass

from forbear.domain.errors import RowError


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    name: str
    zh: str
    required: bool


def normalise_headers(
    headers: list[str], specs: tuple[ColumnSpec, ...]
) -> tuple[dict[str, str], list[RowError]]:
    """Map the file's headers to contract names; report unknown, duplicate and missing ones.

    Returns ``{file header: contract name}`` and the header errors (all on line 1).
    """
    by_alias: dict[str, str] = {}
    for spec in specs:
        by_alias[spec.name.lower()] = spec.name
        by_alias[spec.zh] = spec.name
    mapping: dict[str, str] = {}
    errors: list[RowError] = []
    seen: set[str] = set()
    for header in headers:
        key = header.strip().lstrip("\ufeff")
        name = by_alias.get(key.lower()) or by_alias.get(key)
        if name is None:
            errors.append(RowError(1, key or "(empty)", "unknown column (see docs/import.md)"))
            continue
        if name in seen:
            errors.append(RowError(1, key, f"column {name} appears twice"))
            continue
        seen.add(name)
        mapping[header] = name
    for spec in specs:
        if spec.required and spec.name not in seen:
            errors.append(RowError(1, spec.name, "required column is missing"))
    return mapping, errors
