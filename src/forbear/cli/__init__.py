"""The operators' command line: ``forbear --help``.

Every command answers bad input, a missing file, an unreachable database or a missing
key with one clear line on stderr and a non-zero exit code, never a traceback, and
leaves stored data unchanged (each command's writes are one transaction).

One module per business noun (``book``, ``contacts``, ``plans``, ...), each with its own
``typer`` group; :mod:`forbear.cli.main` puts them together; what they share is in
:mod:`forbear.cli.common` (and the tables several print, in :mod:`forbear.cli.reports`).
A command module imports neither a sibling nor :mod:`forbear.store`: it calls services.
"""

import gc
import os

# OpenBLAS (NumPy's BLAS) starts a thread per core when NumPy is imported, and each spins
# for a moment waiting for work: 0.1-0.3 s of CPU per process on a 2-core machine, taken
# from the command's own start. No command multiplies matrices large enough to gain from
# them; a value the operator set is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# The imports below create some 160,000 tracked objects that live as long as the command:
# the cyclic collector would run some 400 times while they load (0.15-0.25 s), and once
# re-enabled would scan them all again. It is off while they load, and they are then
# frozen (never scanned; Python's documented use of gc.freeze() after start-up).
_collecting = gc.isenabled()
gc.disable()
try:
    from forbear.cli.main import app, main
finally:
    if _collecting:
        gc.freeze()
        gc.enable()

__all__ = ["app", "main"]
