"""Synthetic book and borrower-behaviour simulator (demo data, strategy lab)."""

from forbear.sim.book import DemoBook, generate_book, write_files
from forbear.sim.products import load_products

__all__ = ["DemoBook", "generate_book", "load_products", "write_files"]
