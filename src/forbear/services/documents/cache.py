"""PDFs already rendered, by case and fingerprint of their facts, in this process's memory.

Rendering a PDF with the embedded CJK font costs seconds (fpdf2 parses the 65,000-glyph
face, then subsets it); the same case with the same facts gives the same document, so a
second download of it is served from here. The key holds a sha256 of every fact the
document prints, so any change (a payment, a cost, a stage, a new day) makes a new one.
The documents carry personal data: they stay in memory only (never on disk), the cache is
small and bounded, and every download still goes through the use case (permission, scope,
unmasking and audit) before the cached bytes are returned.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable


class Rendered:
    """A small thread-safe LRU map of rendered documents."""

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, tuple[str, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> tuple[str, bytes] | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: Hashable, value: tuple[str, bytes]) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


RENDERED = Rendered()
