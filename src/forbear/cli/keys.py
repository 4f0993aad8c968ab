"""``forbear keys`` and ``forbear keygen``: encryption keys: rotate, re-encrypt, status."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from forbear.cli.common import Actor, actor_or_default, console, open_app
from forbear.settings import new_key_text

app = typer.Typer(help="Encryption keys: rotate, re-encrypt, status.")


def keygen() -> None:
    """Print a new random encryption key for FORBEAR_ENCRYPTION_KEY."""
    console.print(new_key_text(), highlight=False)


def _print_reencrypted(report: object) -> None:
    from forbear.services.keys import RotationReport

    assert isinstance(report, RotationReport)
    table = Table(title=f"Re-encrypted to key version {report.key_version}")
    for name in ("Table", "Rows seen", "Rows rewritten", "Values re-encrypted"):
        table.add_column(name, justify="right" if name != "Table" else "left")
    for name, t in report.tables.items():
        table.add_row(name, str(t.rows_seen), str(t.rows_rewritten), str(t.values_reencrypted))
    console.print(table)


@app.command("rotate")
def keys_rotate(
    actor: Actor = "",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 500,
) -> None:
    """Add a new key version to the key file, make it current, re-encrypt everything.

    Keys given in FORBEAR_ENCRYPTION_KEYS / FORBEAR_ENCRYPTION_KEY are not written here:
    add the new key to the secret store, deploy, then run `forbear keys reencrypt`.
    """
    from forbear.bootstrap import vault_from
    from forbear.domain.errors import ConfigurationError
    from forbear.services.keys import reencrypt
    from forbear.settings import write_keyring

    forbear = open_app()
    settings = forbear.settings
    if settings.keyring_from_environment:
        raise ConfigurationError(
            "keys come from FORBEAR_ENCRYPTION_KEYS/FORBEAR_ENCRYPTION_KEY: add the new key "
            "there (raise `current`), deploy, then run `forbear keys reencrypt`"
        )
    keyring = settings.load_keyring().rotated()
    # The new key is on disk before any value is encrypted with it.
    write_keyring(settings.key_file, keyring)
    forbear.vault = vault_from(keyring)
    console.print(f"key version {keyring.current} is now current ({settings.key_file})")
    _print_reencrypted(
        reencrypt(
            forbear.engine,
            forbear.vault,
            actor=actor_or_default(actor),
            batch_size=batch_size,
            data_dir=forbear.settings.data_dir,
        )
    )


@app.command("reencrypt")
def keys_reencrypt(
    actor: Actor = "",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 500,
) -> None:
    """Finish (or resume) a rotation: re-encrypt values not yet at the current version."""
    from forbear.services.keys import reencrypt

    forbear = open_app()
    _print_reencrypted(
        reencrypt(
            forbear.engine,
            forbear.vault,
            actor=actor_or_default(actor),
            batch_size=batch_size,
            data_dir=forbear.settings.data_dir,
        )
    )


@app.command("status")
def keys_status() -> None:
    """The current key version and how many stored values each version encrypts."""
    from forbear.services.keys import versions_in_use

    forbear = open_app()
    console.print(f"current key version: {forbear.vault.key_version}")
    for version, count in versions_in_use(forbear.engine, forbear.settings.data_dir).items():
        console.print(f"  version {version}: {count} value(s)")
