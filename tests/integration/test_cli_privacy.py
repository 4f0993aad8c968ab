"""The keys, retention and privacy commands as an operator meets them."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from clirun import assert_one_clear_line, forbear


def test_keys_rotate_turns_the_key_file_into_a_private_keyring(tmp_path: Path) -> None:
    first = forbear(tmp_path, "keys", "status")
    assert first.returncode == 0, first.stderr
    assert "current key version: 1" in first.stdout
    rotated = forbear(tmp_path, "keys", "rotate", "--actor", "ops")
    assert rotated.returncode == 0, rotated.stderr
    key_file = tmp_path / "forbear.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    ring = json.loads(key_file.read_text())
    assert ring["current"] == 2 and ring["index"] == 1 and set(ring["keys"]) == {"1", "2"}
    again = forbear(tmp_path, "keys", "status")
    assert "current key version: 2" in again.stdout


def test_privacy_export_refuses_without_a_purpose_and_a_role(tmp_path: Path) -> None:
    out = tmp_path / "export.json"
    result = forbear(tmp_path, "privacy", "export", "C001", "--to", str(out))
    assert_one_clear_line(result, "may not privacy.export")
    result = forbear(
        tmp_path,
        "privacy",
        "export",
        "C001",
        "--to",
        str(out),
        "--role",
        "agent",
        "--purpose",
        "privacy_request",
    )
    assert_one_clear_line(result, "'agent' may not privacy.export")
    assert not out.exists()


def test_retention_purge_dry_run_on_an_empty_book(tmp_path: Path) -> None:
    result = forbear(tmp_path, "retention", "purge", "--as-of", "2026-01-01", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "dry run" in result.stdout
    bad = forbear(tmp_path, "retention", "purge", "--as-of", "yesterday")
    assert_one_clear_line(bad, "--as-of")
