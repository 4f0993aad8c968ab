"""Bulk jobs over the whole book (DESIGN.md, "The daily run"): frames in, frames out."""
