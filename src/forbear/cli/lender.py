"""``forbear config``: the lender's compliance configuration (tightens its rule pack)."""

from __future__ import annotations

from pathlib import Path

import typer

from forbear.cli.common import cli_actor, console, open_app
from forbear.domain.errors import ValidationError

app = typer.Typer(help="The lender's compliance configuration (tightens its rule pack).")


@app.command("check")
def config_check(file: Path) -> None:
    """Validate a lender configuration against its pack; store nothing."""
    from forbear.services.lender import compile_text

    if not file.is_file():
        raise ValidationError(str(file), "no such file")
    rules = compile_text(file.read_text(encoding="utf-8"), file.name)
    console.print(f"[green]✓[/] {file.name}: valid for pack {rules.pack}")


@app.command("set")
def config_set(file: Path) -> None:
    """Validate and store a new version of the lender configuration (audited)."""
    from forbear.services.lender import set_config

    if not file.is_file():
        raise ValidationError(str(file), "no such file")
    forbear = open_app()
    with forbear.transaction() as conn:
        info = set_config(
            conn,
            file.read_text(encoding="utf-8"),
            source=file.name,
            actor=cli_actor(),
            now=forbear.now(),
        )
    console.print(
        f"[green]✓[/] lender configuration version {info.version} (pack {info.pack}) is in force"
    )


@app.command("show")
def config_show() -> None:
    """The lender configuration in force (stored version, file, or the default)."""
    from forbear.services.lender import current, current_text

    forbear = open_app()
    with forbear.transaction() as conn:
        info, text = current(conn), current_text(conn)
    if info is None or text is None:
        console.print("no stored configuration: the default (CN, contact 08:00–21:00) is in force")
        return
    console.print(
        f"version {info.version} (pack {info.pack}), set by {info.created_by} at "
        f"{info.created_at:%Y-%m-%d %H:%M} UTC from {info.source}; sha256 {info.sha256[:12]}"
    )
    console.print(text, highlight=False, markup=False)
