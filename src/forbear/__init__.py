"""Forbear: a compliance-first collections platform for consumer-finance lenders."""

__version__ = "0.1.0"
