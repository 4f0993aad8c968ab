"""Compliance: rule packs, the contact gate, the content filter (REGULATIONS.md)."""
