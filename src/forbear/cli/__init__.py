"""The operators' command line: ``forbear --help``.

Every command answers bad input, a missing file, an unreachable database or a missing
key with one clear line on stderr and a non-zero exit code, never a traceback, and
leaves stored data unchanged (each command's writes are one transaction).

One module per business noun (``book``, ``contacts``, ``plans``, ...), each with its own
``typer`` group; :mod:`forbear.cli.main` puts them together; what they share is in
:mod:`forbear.cli.common` (and the tables several print, in :mod:`forbear.cli.reports`).
A command module imports neither a sibling nor :mod:`forbear.store`: it calls services.
"""

from forbear.cli.main import app, main

__all__ = ["app", "main"]
