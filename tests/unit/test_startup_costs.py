"""What a command pays before it works: numba without SciPy, one BLAS thread, and the
cyclic collector during the daily run (forbear.domain.jit, forbear.cli, forbear.cli.run)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

from forbear.cli.run import YOUNG_THRESHOLD, _batch_collection


def _python(code: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_the_compiled_loops_load_without_scipy_and_numba_keeps_its_blas_check() -> None:
    out = _python(
        "import sys\n"
        "import numpy as np\n"
        "from forbear.domain.ledger.allocation import compiled\n"
        "from forbear.domain.scoring import forest_walk\n"
        "a = np.array([3, 1, 2], dtype=np.int64)\n"
        "rows, start = compiled.group(compiled.owners(a, np.array([1, 2, 3])), 3, a, a)\n"
        "print(start.tolist(), 'scipy.linalg' in sys.modules)\n"
        "import numba.np.linalg as nl, numba.np.arraymath as am\n"
        "print(am._HAVE_BLAS, am.ensure_blas is nl.ensure_blas, nl.ensure_blas.__module__)\n"
        "import scipy.linalg\n"  # SciPy itself still imports, whole
        "print(scipy.linalg.norm([3.0, 4.0]))\n"
    )
    first, second, third = out.splitlines()
    assert first == "[0, 1, 2, 3] False"
    assert second == "False True numba.np.linalg"
    assert float(third) == 5.0


def test_numba_is_left_alone_where_scipy_is_already_loaded() -> None:
    out = _python(
        "import scipy.linalg\n"
        "from forbear.domain import jit\n"
        "import numba.np.arraymath as am\n"
        "print(am._HAVE_BLAS)\n"
    )
    assert out == "True"


def test_the_command_line_asks_for_one_blas_thread_unless_told_otherwise() -> None:
    code = "import os, forbear.cli; print(os.environ['OPENBLAS_NUM_THREADS'])"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "1"
    assert _python(code, OPENBLAS_NUM_THREADS="2") == "2"


def test_the_run_tunes_the_collector_and_puts_it_back() -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    with _batch_collection():
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        assert gc.get_freeze_count() > frozen
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_the_collector_is_put_back_when_the_run_fails() -> None:
    before = gc.get_threshold()
    try:
        with _batch_collection():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
