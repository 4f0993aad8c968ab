"""Tables of the plans area (issue 6); imported by :mod:`forbear.store.area_models`."""

from __future__ import annotations
