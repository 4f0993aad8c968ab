"""Tables that more than one command prints: the book by bucket, roll rates, a frame,
and the summary of a daily run."""

from __future__ import annotations

from datetime import date

import polars as pl
from rich.table import Table

from forbear.cli.common import console, yuan


def bucket_table(summary: pl.DataFrame, title: str) -> Table:
    table = Table(title=title)
    for name in (
        "Bucket 账龄",
        "Accounts 户数",
        "Share 占比",
        "Outstanding 在贷余额",
        "Overdue 逾期金额",
    ):
        table.add_column(name, justify="right")
    for row in summary.iter_rows(named=True):
        table.add_row(
            row["bucket"],
            f"{row['accounts']:,}",
            f"{row['share']:.1%}",
            yuan(row["outstanding_principal"]),
            yuan(row["overdue_total"]),
        )
    table.add_section()
    table.add_row(
        "Total 合计",
        f"{summary['accounts'].sum():,}",
        "100.0%",
        yuan(int(summary["outstanding_principal"].sum())),
        yuan(int(summary["overdue_total"].sum())),
    )
    return table


def roll_table(matrix: pl.DataFrame, title: str) -> Table:
    table = Table(title=title)
    table.add_column("From 从", justify="left")
    table.add_column("Accounts 户数", justify="right")
    targets = [c for c in matrix.columns if c not in ("bucket", "accounts")]
    for name in targets:
        table.add_column(name, justify="right")
    for row in matrix.iter_rows(named=True):
        cells = [f"{row[c]:.1%}" if row[c] else "·" for c in targets]
        table.add_row(row["bucket"], f"{row['accounts']:,}", *cells)
    return table


def frame_table(frame: pl.DataFrame, title: str) -> Table:
    table = Table(title=title)
    for name in frame.columns:
        table.add_column(name, justify="right")
    for row in frame.iter_rows():
        table.add_row(
            *["" if v is None else f"{v:,}" if isinstance(v, int) else str(v) for v in row]
        )
    return table


def _count_table(title: str, rows: list[dict[str, object]], key: str, label: str) -> Table:
    table = Table(title=title)
    table.add_column(label)
    table.add_column("Count 数量", justify="right")
    for row in rows:
        name = row.get(key)
        table.add_row("-" if name is None else str(name), f"{int(row['count']):,}")  # type: ignore[call-overload]
    return table


def print_run_summary(summary: dict[str, object], as_of: date) -> None:
    """The stored summary of a daily run (``runs.summary``), printed with rich."""
    get = summary.get
    console.print(
        f"Daily run 每日作业 {as_of}: {get('accounts', 0):,} accounts, "
        f"{get('actions', 0):,} actions, strategy version "
        f"{get('strategy_version_id') or 'default (shipped)'}"
    )
    for title, key, label in (
        ("Accounts by segment 分群", "by_segment", "segment"),
        ("Accounts by treatment 处置", "by_treatment", "treatment"),
        ("Accounts by arm 实验组", "by_arm", "arm"),
        ("Blocked contacts by rule 合规拦截", "blocked_by_rule", "rule"),
        ("Scheduled by channel 今日渠道", "scheduled_by_channel", "channel"),
        ("Scheduled agent work by team 团队", "scheduled_by_team", "team_id"),
        ("Carried to tomorrow by channel 顺延", "carried_by_channel", "channel"),
    ):
        rows = get(key) or []
        assert isinstance(rows, list)
        if not rows:
            console.print(f"{title}: none")
            continue
        console.print(_count_table(title, rows, label, label))
    contacts = get("contacts") or {}
    assert isinstance(contacts, dict)
    console.print(
        f"Contacts 联系: {contacts.get('planned', 0):,} planned, "
        f"[green]{contacts.get('allowed', 0):,} allowed[/], "
        f"[red]{contacts.get('blocked', 0):,} blocked[/]"
    )
    usage = get("capacity") or []
    if usage:
        assert isinstance(usage, list)
        table = Table(title="Capacity use 产能使用")
        for name in usage[0]:
            table.add_column(str(name), justify="right")
        for row in usage:
            table.add_row(*("-" if v is None else str(v) for v in row.values()))
        console.print(table)
    console.print(
        f"Work queue 工作队列: {get('work_queue', 0):,} items; outbox 待发: "
        f"{get('outbox_added', 0):,} added ({get('outbox_total', 0):,} for the date)"
    )
    notes = get("notes")
    for note in notes if isinstance(notes, list) else []:
        # a skipped step is a warning; everything else is information
        console.print(f"[yellow]![/] {note}" if "skipped" in note else f"  · {note}")
