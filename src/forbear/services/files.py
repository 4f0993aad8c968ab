"""Files that hold personal data (privacy exports, litigation packages), for front ends.

They are written readable by their owner only (mode 0600), whole or not at all: see
:mod:`forbear.store.private_files`.
"""

from __future__ import annotations

from pathlib import Path

from forbear.store.private_files import write_private


def write_personal_data(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` with mode 0600, even over an existing file."""
    return write_private(path, data)


__all__ = ["write_personal_data"]
