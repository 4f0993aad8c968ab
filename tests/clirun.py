"""Running the ``forbear`` command as an operator does, for the CLI tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def forbear(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``forbear ARGS`` in a fresh process with only ``FORBEAR_DATA_DIR`` (and ``env``) set
    of Forbear's own variables; never raises on a non-zero exit."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FORBEAR_")} | {
        "FORBEAR_DATA_DIR": str(data_dir),
        "COLUMNS": "200",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "forbear.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """A refusal: non-zero exit, no traceback, exactly one line on stderr holding ``fragments``."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
