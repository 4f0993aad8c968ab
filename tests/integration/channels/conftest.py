"""Fixtures of the channel adapters' tests (helpers in ``standins.py``)."""

from integration.channels.standins import standin

__all__ = ["standin"]
