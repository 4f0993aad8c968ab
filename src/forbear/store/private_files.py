"""Files that hold personal data, created readable by their owner only (mode 0600).

An import's rejects file (names and ID numbers of the rows it refused), a privacy export
and a litigation package are personal data on disk. ``open(path, "w")`` creates a file
with the process umask (usually 0644: readable by every account on the machine), and
``os.open(path, O_CREAT | O_TRUNC, 0o600)`` keeps the old, wider mode of a file that
already exists. So :func:`private_file` writes into a new temporary file that is created
0600 from its first byte (``O_CREAT | O_EXCL``) in the target's directory, and moves it
over the target (``os.replace``) once it is complete: the target is never readable by
others, not even for a moment, and a failed write leaves the old file as it was.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

PRIVATE_MODE = 0o600


@contextmanager
def private_file(path: str | Path) -> Iterator[IO[bytes]]:
    """A binary handle whose content becomes ``path`` (mode 0600) when the block ends
    without an error."""
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_private(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` as a private file (see :func:`private_file`)."""
    with private_file(path) as handle:
        handle.write(data)
    return Path(path)


__all__ = ["PRIVATE_MODE", "private_file", "write_private"]
