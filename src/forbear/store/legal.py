"""Tables of the legal area (issue 6); imported by :mod:`forbear.store.area_models`."""

from __future__ import annotations
