"""Shipped message templates (YAML), one file per strategy."""
