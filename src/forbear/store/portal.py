"""Tables of the portal area (issue 7); imported by :mod:`forbear.store.area_models`."""

from __future__ import annotations
