"""``forbear serve`` and ``forbear staff``: the web app and its staff accounts."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from forbear.cli.common import cli_actor, console, open_app

app = typer.Typer(help="Staff accounts of the web app: add, list, disable, tokens.")

ROLE_HELP = "agent, supervisor, compliance_officer, legal, agency_agent, admin"


def _now() -> datetime:
    return datetime.now(UTC)


def _read_password(from_stdin: bool) -> str:
    from forbear.domain.errors import ValidationError

    if from_stdin:
        text = sys.stdin.readline().rstrip("\r\n")
        if not text:
            raise ValidationError("--password-stdin", "no password on standard input")
        return text
    if not sys.stdin.isatty():
        raise ValidationError("password", "give it with --password-stdin when not at a terminal")
    first = typer.prompt("Password", hide_input=True)
    second = typer.prompt("Repeat the password", hide_input=True)
    if first != second:
        raise ValidationError("password", "the two entries differ")
    return str(first)


@app.command("add")
def staff_add(
    username: str,
    role: Annotated[str, typer.Option("--role", help=ROLE_HELP)],
    name: Annotated[
        str | None, typer.Option("--name", help="display name (default: the username)")
    ] = None,
    agency: Annotated[
        int | None, typer.Option("--agency", help="agency id (agency agents only)")
    ] = None,
    agent_ref: Annotated[
        str | None, typer.Option("--agent", help="capacity agent id whose queue this user works")
    ] = None,
    team: Annotated[str | None, typer.Option("--team", help="team id (supervisors)")] = None,
    buckets: Annotated[
        str | None, typer.Option("--buckets", help="only these buckets, e.g. M1,M2")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="a service account: API tokens only")
    ] = False,
) -> None:
    """Add a staff account (argon2 password hash; audited)."""
    from forbear.domain.errors import ValidationError
    from forbear.services import staff

    if no_password and password_stdin:
        raise ValidationError("--no-password", "cannot be combined with --password-stdin")
    password = None if no_password else _read_password(password_stdin)
    forbear = open_app()
    with forbear.transaction() as conn:
        added = staff.add_staff(
            conn,
            username=username,
            display_name=name or username,
            role=role,
            password=password,
            agency_id=agency,
            agent_ref=agent_ref,
            team_id=team,
            scope_buckets=[b for b in (buckets or "").split(",") if b.strip()],
            actor=cli_actor(),
            now=_now(),
        )
    console.print(
        f"[green]✓[/] staff user {added.username} ({added.role}) added, id {added.id}",
        highlight=False,
    )


@app.command("list")
def staff_list() -> None:
    """Every staff account with its role, scope and state (never a password)."""
    from rich.table import Table

    from forbear.services import staff

    forbear = open_app()
    with forbear.transaction() as conn:
        rows = staff.list_staff(conn)
    table = Table(title="Staff 员工账号")
    for column in ("Id", "Username", "Name", "Role", "Agency", "Agent", "Team", "Buckets", "State"):
        table.add_column(column)
    now = _now()
    for s in rows:
        state = "disabled" if s.disabled else "active"
        if s.locked_until is not None and s.locked_until > now:
            state = "locked"
        if not s.has_password:
            state += " (tokens only)"
        table.add_row(
            str(s.id),
            s.username,
            s.display_name,
            s.role,
            "" if s.agency_id is None else str(s.agency_id),
            s.agent_ref or "",
            s.team_id or "",
            ",".join(s.scope_buckets),
            state,
        )
    console.print(table)


@app.command("disable")
def staff_disable(username: str) -> None:
    """Disable an account; its sessions and API tokens stop working at once."""
    from forbear.services import staff

    forbear = open_app()
    with forbear.transaction() as conn:
        staff.disable_staff(conn, username, actor=cli_actor(), now=_now())
    console.print(f"[green]✓[/] staff user {username} disabled", highlight=False)


@app.command("enable")
def staff_enable(username: str) -> None:
    """Enable a disabled account again, or lift a lock after failed sign-ins."""
    from forbear.services import staff

    forbear = open_app()
    with forbear.transaction() as conn:
        staff.enable_staff(conn, username, actor=cli_actor(), now=_now())
    console.print(f"[green]✓[/] staff user {username} enabled", highlight=False)


@app.command("password")
def staff_password(
    username: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Set a new password (open sessions of the account end)."""
    from forbear.services import staff

    password = _read_password(password_stdin)
    forbear = open_app()
    with forbear.transaction() as conn:
        staff.set_password(conn, username, password, actor=cli_actor(), now=_now())
    console.print(f"[green]✓[/] password of {username} changed", highlight=False)


@app.command("role")
def staff_role(
    username: str,
    role: Annotated[str, typer.Option("--role", help="the new role")],
    agency: Annotated[
        int | None, typer.Option("--agency", help="agency id (agency agents)")
    ] = None,
    buckets: Annotated[
        list[str] | None, typer.Option("--bucket", help="a bucket the account sees (repeat)")
    ] = None,
    agent_ref: Annotated[str | None, typer.Option("--agent-ref", help="work queue id")] = None,
    team: Annotated[str | None, typer.Option("--team", help="team id")] = None,
) -> None:
    """Change an account's role and scope (its sessions end; the last admin stays)."""
    from forbear.services import staff

    forbear = open_app()
    with forbear.transaction() as conn:
        made = staff.change_role(
            conn, username, role=role, actor=cli_actor(), now=_now(), agency_id=agency,
            agent_ref=agent_ref, team_id=team, scope_buckets=buckets or [],
        )  # fmt: skip
    console.print(f"[green]✓[/] {made.username} is now {made.role}", highlight=False)


@app.command("token")
def staff_token(
    username: str,
    name: Annotated[str, typer.Option("--name", help="what the token is for")],
    days: Annotated[int, typer.Option("--days", min=1, max=730, help="valid for")] = 90,
) -> None:
    """Issue an API token acting as USERNAME (printed once; only its hash is kept)."""
    from forbear.services import staff

    forbear = open_app()
    with forbear.transaction() as conn:
        issued = staff.issue_api_token(
            conn,
            username,
            name=name,
            days=days,
            actor=cli_actor(),
            now=_now(),
        )
    expires = issued.expires_at.strftime("%Y-%m-%d") if issued.expires_at else "never"
    console.print(f"token {issued.id} (expires {expires}); shown once:", highlight=False)
    console.print(issued.token, highlight=False, soft_wrap=True)


@app.command("revoke-token")
def staff_revoke_token(token_id: int) -> None:
    """Revoke an API token by its id."""
    from forbear.services import staff

    forbear = open_app()
    with forbear.transaction() as conn:
        staff.revoke_api_token(conn, token_id, actor=cli_actor(), now=_now())
    console.print(f"[green]✓[/] token {token_id} revoked")


def serve(
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="proxies trusted for X-Forwarded-For (the client address of the sign-in "
            "rate limits); default: none",
        ),
    ] = None,
) -> None:
    """Serve the web app (workbench and /api/v1) with uvicorn."""
    import logging

    import uvicorn

    from forbear.web import create_app

    forbear = open_app()
    web = create_app(forbear)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    console.print(
        f"Forbear web app on http://{host}:{port}/  (API: /api/v1, OpenAPI: "
        "/api/v1/openapi.json; Ctrl+C stops)",
        highlight=False,
    )
    try:
        uvicorn.run(
            web,
            host=host,
            port=port,
            access_log=False,  # its lines carry query strings; forbear.web.access does not
            proxy_headers=forwarded_allow_ips is not None,
            forwarded_allow_ips=forwarded_allow_ips,
            server_header=False,
        )
    finally:
        forbear.close()
