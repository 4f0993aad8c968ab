"""The day's kernel inputs exported as Parquet for a cluster job: the frames bucket by
bucket (:func:`forbear.batch.kernel.write_parquet`), a manifest, the active strategy and
the lender configuration in force; and the reader of such an export, for
:func:`forbear.batch.spark_engine.decide_parquet_spark`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path

from sqlalchemy import Connection

from forbear.batch import kernel
from forbear.batch.engines import CONTACT_HOUR
from forbear.batch.inputs import active, day_frames, previous_day
from forbear.domain.compliance.config import CompiledRules
from forbear.domain.errors import ValidationError
from forbear.domain.strategy import Strategy

EXPORT_MANIFEST = "manifest.json"
EXPORT_STRATEGY = "strategy.yaml"
EXPORT_LENDER = "lender.yaml"


@dataclass(frozen=True)
class Export:
    """What :func:`read_export` finds: everything ``decide_parquet_spark`` needs."""

    root: Path
    as_of: date
    hour: time
    buckets: int
    strategy: Strategy
    strategy_version_id: int | None
    rules: CompiledRules


def export_day(
    conn: Connection,
    as_of: date,
    data_dir: Path,
    root: Path,
    buckets: int = kernel.DEFAULT_BUCKETS,
    *,
    hour: time = CONTACT_HOUR,
) -> Export:
    """Write the day's kernel inputs (the whole book's :class:`~forbear.batch.kernel.DayFrames`
    with yesterday's carried actions) as a Parquet export at ``root`` for a cluster job,
    with ``manifest.json`` (date, hour, buckets, row counts), the active strategy's YAML
    and the lender configuration in force (``lender.yaml``; absent = the default).

    Run it after the day's states and scores (``forbear book state``, ``forbear model
    score``): accounts without the day's scores go out unscored. Writes nothing to the
    database apart from the ledger snapshot of ``as_of`` when the date has none."""
    from forbear.services.contacts import lender_rules
    from forbear.services.lender import lender_text

    if buckets < 1:
        raise ValidationError("buckets", f"{buckets}: at least 1")
    version_id, strategy = active(conn)
    rules = lender_rules(data_dir, conn)
    _queue, carried = previous_day(conn, as_of)
    frames = day_frames(conn, as_of, hour, carried)
    found = lender_text(conn, data_dir)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    kernel.write_parquet(frames, root, buckets)
    (root / EXPORT_STRATEGY).write_text(strategy.text or "", encoding="utf-8")
    if found is not None:
        (root / EXPORT_LENDER).write_text(found[0], encoding="utf-8")
    manifest = {
        "as_of": as_of.isoformat(),
        "hour": hour.isoformat(),
        "buckets": buckets,
        "strategy_version_id": version_id,
        "rows": {name: getattr(frames, name).height for name in kernel.TABLES},
    }
    (root / EXPORT_MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return Export(root, as_of, hour, buckets, strategy, version_id, rules)


def read_export(root: Path) -> Export:
    """An export written by :func:`export_day`, for ``decide_parquet_spark(export.root,
    export.strategy, export.rules, export.as_of, export.hour)``."""
    from forbear.domain.compliance.config import default_rules
    from forbear.domain.strategy import parse_strategy
    from forbear.services.lender import compile_text

    try:
        manifest = json.loads((root / EXPORT_MANIFEST).read_text(encoding="utf-8"))
        text = (root / EXPORT_STRATEGY).read_text(encoding="utf-8")
    except (OSError, ValueError) as e:
        raise ValidationError("root", f"{root} is not a Forbear export ({e})") from None
    lender = root / EXPORT_LENDER
    rules = (
        compile_text(lender.read_text(encoding="utf-8"), str(lender))
        if lender.is_file()
        else default_rules()
    )
    return Export(
        root=root,
        as_of=date.fromisoformat(manifest["as_of"]),
        hour=time.fromisoformat(manifest["hour"]),
        buckets=int(manifest["buckets"]),
        strategy=parse_strategy(text, str(root / EXPORT_STRATEGY)),
        strategy_version_id=manifest["strategy_version_id"],
        rules=rules,
    )
