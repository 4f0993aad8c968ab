"""The lender's configuration: validated, versioned, audited, in force for the gate."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection

from clocks import SETUP_AT
from forbear.domain.errors import ConfigurationError
from forbear.services import lender
from forbear.store import audit

TIGHTER = """
pack: CN
overrides:
  CN.HOURS.QUIET:
    windows: ["09:00-20:00"]
"""
LOOSER = """
pack: CN
overrides:
  CN.HOURS.QUIET:
    end: "22:30"
"""


def quiet_windows(rules: object) -> list[str]:
    return [str(w) for w in rules.rule("CN.HOURS.QUIET").params["windows"]]  # type: ignore[attr-defined]


def test_a_new_configuration_is_stored_audited_and_in_force(
    connection: Connection, tmp_path: Path
) -> None:
    default = lender.rules_in_force(connection, tmp_path)
    info = lender.set_config(
        connection, TIGHTER, source="lender.yaml", actor="compliance:wang", now=SETUP_AT
    )
    assert (info.version, info.pack) == (1, "CN")
    in_force = lender.rules_in_force(connection, tmp_path)
    assert quiet_windows(in_force) != quiet_windows(default)
    assert quiet_windows(in_force) == ["09:00-20:00"]
    [event] = audit.events(connection, action="config.change")
    assert event.subject_id == "1" and event.actor == "compliance:wang"
    second = lender.set_config(
        connection, TIGHTER, source="lender.yaml", actor="compliance:wang", now=SETUP_AT
    )
    assert second.version == 2
    assert audit.verify(connection).ok


def test_a_loosened_configuration_is_refused_and_nothing_is_recorded(
    connection: Connection, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError, match="may only tighten"):
        lender.set_config(connection, LOOSER, source="lender.yaml", actor="admin", now=SETUP_AT)
    assert lender.current(connection) is None
    assert audit.events(connection, action="config.change") == []
