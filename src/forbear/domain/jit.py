"""numba, as the compiled loops use it (the ledger's walk, the forest scorer): import it
from here, not directly.

The first function numba compiles or loads from its cache in a process installs numba's
implementations, and one of them (``numba.np.arraymath``) checks for a BLAS by importing
``scipy.linalg``: 0.3 s of a command's start under the interpreter lock, and SciPy's own
BLAS threads, for linear algebra that none of Forbear's loops does (no ``np.dot``, no
``np.linalg``). :func:`_without_blas_check` imports that module with the check answering
"no BLAS", then puts numba's check back, so that numba is otherwise as installed: a loop
that did use linear algebra would still compile (``numba.np.linalg`` checks again
itself). Where SciPy is already imported the check is free and nothing is changed.
"""

from __future__ import annotations

import sys

import numba


def _without_blas_check() -> None:
    if "scipy.linalg" in sys.modules or "numba.np.arraymath" in sys.modules:
        return
    try:
        import numba.np.linalg as linalg

        check = linalg.ensure_blas
    except (ImportError, AttributeError):  # pragma: no cover - another numba's layout
        return

    def no_blas() -> None:
        raise ImportError("the compiled loops use no BLAS")

    linalg.ensure_blas = no_blas
    try:
        from numba.np import arraymath
    finally:
        linalg.ensure_blas = check
    if getattr(arraymath, "ensure_blas", None) is no_blas:
        arraymath.ensure_blas = check  # type: ignore[attr-defined]


_without_blas_check()

__all__ = ["numba"]
