"""Command groups that live outside :mod:`forbear.cli` (registered at its end).

Each module defines ``app = typer.Typer(...)``. Helpers of :mod:`forbear.cli` (``_app``,
``console``, ``parse_date``, ...) are imported inside the command functions, so that
importing a module here never imports :mod:`forbear.cli` half-way.
"""
