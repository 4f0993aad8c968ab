"""Running the ``forbear`` command as an operator does, for the CLI tests.

:func:`forbear` runs the command line's own entry point (:func:`forbear.cli.main`) inside
the test process, as a fresh process would run it: ``sys.argv``, the environment (only
``FORBEAR_DATA_DIR`` and ``env`` of Forbear's own variables), stdin (empty, or the text
given to :func:`forbear_with_input`), stdout and stderr captured as text, Python's
default warning filters, and the exit code from ``sys.exit``. A fresh ``python -m
forbear.cli`` costs about 2.3 CPU seconds of imports before it does anything, and the CLI
tests start a few hundred of them.

:func:`forbear_process` starts a real ``python -m forbear.cli`` process: for what only a
separate process shows (signals, kills, two processes at once, a server). Commands that
keep running (``serve``, ``worker``, ``dispatch`` without ``--once``) always get one.
"""

from __future__ import annotations

import gc
import io
import logging
import os
import signal
import subprocess
import sys
import types
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# commands that serve or loop until stopped: never inside the test process
_LONG_RUNNING = {"serve", "worker"}


def _environment(data_dir: Path, env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FORBEAR_")} | {
        "FORBEAR_DATA_DIR": str(data_dir),
        "COLUMNS": "200",
        **env,
    }


def forbear_process(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``forbear ARGS`` in a fresh process with only ``FORBEAR_DATA_DIR`` (and ``env``) set
    of Forbear's own variables; never raises on a non-zero exit."""
    return subprocess.run(
        [sys.executable, "-m", "forbear.cli", *args],
        capture_output=True,
        text=True,
        env=_environment(data_dir, env),
        timeout=300,
        check=False,
    )


def forbear(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``forbear ARGS`` as :func:`forbear_process` runs it, inside this process (see the
    module's docstring); never raises on a non-zero exit."""
    return forbear_with_input(data_dir, "", *args, **env)


def forbear_with_input(
    data_dir: Path, text: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """:func:`forbear` with ``text`` on the command's stdin."""
    if not args or args[0] in _LONG_RUNNING or (args[0] == "dispatch" and "--once" not in args):
        return forbear_process(data_dir, *args, **env)
    argv = ["forbear", *args]
    code = 0
    with _as_a_fresh_process(_environment(data_dir, env), argv, text) as (stdout, stderr):
        from forbear.cli import main

        try:
            main()
        except SystemExit as exit_:
            code = _exit_code(exit_.code)
    return subprocess.CompletedProcess(
        [sys.executable, "-m", "forbear.cli", *args],
        code,
        _text(stdout),
        _text(stderr),
    )


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # what the interpreter does with sys.exit("message")
    return 1


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    raw: bytes = stream.buffer.getvalue()  # type: ignore[attr-defined]
    # as ``subprocess.run(text=True)`` reads it: universal newlines
    return raw.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")


@contextmanager
def _as_a_fresh_process(
    environment: dict[str, str], argv: list[str], stdin: str
) -> Iterator[tuple[io.TextIOWrapper, io.TextIOWrapper]]:
    """The process-wide state a fresh ``forbear`` process starts with, restored after."""
    from forbear.cli import common

    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    stderr = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    saved_environ = dict(os.environ)
    saved = (sys.argv, sys.stdin, sys.stdout, sys.stderr, sys.modules["__main__"])
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    # the consoles as a process whose output is not a terminal makes them (no colours,
    # 150 columns), whatever this process's own output was when they were made
    consoles = [(c, c._width, c._color_system) for c in (common.console, common.err)]
    root = logging.getLogger()
    logging_state = (root.handlers[:], root.level)
    try:
        # no handler of the test run's: warnings reach stderr through logging's last resort
        root.handlers, root.level = [], logging.WARNING
        os.environ.clear()
        os.environ.update(environment)
        sys.argv = argv
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode("utf-8")), encoding="utf-8")
        sys.stdout, sys.stderr = stdout, stderr
        # click names the program after ``__main__``: as the ``forbear`` script does
        sys.modules["__main__"] = types.ModuleType("__main__")
        for console, _, _ in consoles:
            console._width, console._color_system = 150, None
        with warnings.catch_warnings():
            warnings.resetwarnings()  # then Python's default filters, in their order
            warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
            for category in (
                DeprecationWarning,
                PendingDeprecationWarning,
                ImportWarning,
                ResourceWarning,
            ):
                warnings.filterwarnings("ignore", category=category, append=True)
            try:
                yield stdout, stderr
            finally:
                # what the command left open goes now, under these filters, as it
                # would at a process's exit
                gc.collect()
    finally:
        root.handlers, root.level = logging_state
        for console, width, colours in consoles:
            console._width, console._color_system = width, colours
        sys.argv, sys.stdin, sys.stdout, sys.stderr, sys.modules["__main__"] = saved
        os.environ.clear()
        os.environ.update(saved_environ)
        for number, handler in handlers.items():
            if handler is not None:
                signal.signal(number, handler)


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """A refusal: non-zero exit, no traceback, exactly one line on stderr holding ``fragments``."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
