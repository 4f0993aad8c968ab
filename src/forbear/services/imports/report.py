"""What an import did, for the person who ran it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from forbear.domain.errors import RowError


@dataclass
class ImportReport:
    kind: str
    source: str
    rows_total: int = 0
    rows_imported: int = 0
    rows_updated: int = 0
    rows_skipped_existing: int = 0
    rows_rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    rejects_file: Path | None = None
    batch_id: int | None = None
    encoding: str | None = None

    @property
    def status(self) -> str:
        if self.rows_rejected == 0:
            return "committed"
        return "partial" if self.rows_imported or self.rows_skipped_existing else "rejected"

    def summary(self) -> str:
        parts = [
            f"{self.rows_imported} imported",
            f"{self.rows_skipped_existing} already stored",
        ]
        if self.rows_updated:
            parts.append(f"{self.rows_updated} updated")
        if self.rows_rejected:
            parts.append(f"{self.rows_rejected} rejected")
        return f"{self.kind} from {self.source}: {self.rows_total} rows: " + ", ".join(parts)
