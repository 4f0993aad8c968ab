"""``forbear staff`` and ``forbear serve`` as an operator runs them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from clirun import assert_one_clear_line, forbear, forbear_with_input


def _stdin(data_dir: Path, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    return forbear_with_input(data_dir, text, *args)


def test_add_list_disable_enable_token(tmp_path: Path) -> None:
    added = _stdin(
        tmp_path, "a long enough secret\n", "staff", "add", "wang.fang", "--role", "agent",
        "--agent", "zh-002", "--name", "王芳", "--password-stdin",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "wang.fang (agent) added" in added.stdout
    listed = forbear(tmp_path, "staff", "list")
    assert "wang.fang" in listed.stdout and "zh-002" in listed.stdout
    assert "a long enough secret" not in listed.stdout
    token = forbear(tmp_path, "staff", "token", "wang.fang", "--name", "core system")
    assert token.returncode == 0 and "fbr_" in token.stdout
    assert forbear(tmp_path, "staff", "disable", "wang.fang").returncode == 0
    # disabling revoked the token already
    assert_one_clear_line(forbear(tmp_path, "staff", "revoke-token", "1"), "already revoked")
    assert forbear(tmp_path, "staff", "enable", "wang.fang").returncode == 0
    audit = forbear(tmp_path, "audit", "show", "--limit", "20").stdout
    assert "wang.fang" in audit or "staff_user" in audit
    for action in ("staff.add", "staff.disable", "staff.enable", "staff.token.issue"):
        assert action in audit


def test_bad_input_gets_one_clear_line_and_writes_nothing(tmp_path: Path) -> None:
    weak = _stdin(
        tmp_path, "short\n", "staff", "add", "li.lei", "--role", "agent", "--password-stdin"
    )
    assert_one_clear_line(weak, "password", "at least 10 characters")
    secret = "a long enough secret\n"
    add = ("staff", "add", "li.lei", "--password-stdin", "--role")
    assert_one_clear_line(_stdin(tmp_path, secret, *add, "boss"), "role", "unknown role")
    assert_one_clear_line(_stdin(tmp_path, secret, *add, "agency_agent"), "agency")
    assert_one_clear_line(forbear(tmp_path, "staff", "disable", "nobody"), "staff user not found")
    assert "li.lei" not in forbear(tmp_path, "staff", "list").stdout


def test_serve_refuses_production_without_a_session_secret(tmp_path: Path) -> None:
    production = {
        "FORBEAR_ENVIRONMENT": "production",
        "FORBEAR_ENCRYPTION_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "FORBEAR_DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}",
    }
    assert forbear(tmp_path, "db", "upgrade", **production).returncode == 0
    assert_one_clear_line(forbear(tmp_path, "serve", **production), "FORBEAR_SESSION_SECRET")
    weak = forbear(tmp_path, "serve", FORBEAR_SESSION_SECRET="changeme", **production)
    assert_one_clear_line(weak, "FORBEAR_SESSION_SECRET", "at least 32")
