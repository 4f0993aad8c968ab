"""Tables of the contract terms registry (issue 6); imported by :mod:`forbear.store.area_models`."""

from __future__ import annotations
