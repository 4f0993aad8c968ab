"""`forbear dispatch --once` and `forbear outbox status|list|retry|cancel` as an operator
meets them (a fresh process on the embedded database; the wall clock, so whether a
message goes now or waits for the morning depends on the hour: both are accepted)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from clirun import assert_one_clear_line, forbear
from clocks import SETUP_AT
from factories import import_three_loans
from forbear.bootstrap import bootstrap
from forbear.services.templates import install_library
from forbear.settings import Settings
from forbear.store.models import Loan
from forbear.store.runs import OutboxMessage


def book_with_messages(data_dir: Path, n: int) -> list[int]:
    app = bootstrap(Settings(data_dir=data_dir))
    try:
        due = app.now() - timedelta(minutes=1)
        with app.transaction() as conn:
            import_three_loans(conn, app.vault, data_dir)
            install_library(conn, now=SETUP_AT)
            loan = conn.execute(select(Loan.id, Loan.borrower_id).limit(1)).one()
            ids = []
            for i in range(n):
                ids.append(
                    conn.execute(
                        insert(OutboxMessage)
                        .values(
                            as_of=date(2026, 12, 7),
                            loan_id=loan.id,
                            borrower_id=loan.borrower_id,
                            action_index=i,
                            channel="sms",
                            template="CN.M1.REMIND.SMS",
                            dedupe_key=f"cli-{i}",
                            status="queued",
                            created_at=due,
                            origin="agent",
                            due_at=due,
                            next_attempt_at=due + timedelta(days=365 * (i % 2)),
                            tries=0,
                            reason_rules="[]",
                        )
                        .returning(OutboxMessage.id)
                    ).scalar_one()
                )
        return ids
    finally:
        app.close()


def test_dispatch_once_then_status_list_cancel_and_retry(tmp_path: Path) -> None:
    ids = book_with_messages(tmp_path, 4)  # two due now, two next year
    ran = forbear(tmp_path, "dispatch", "--once", "--worker-id", "cli-test")
    assert ran.returncode == 0, ran.stderr
    assert "claimed 2:" in ran.stdout
    assert ("sent 2" in ran.stdout) or ("rescheduled 2" in ran.stdout)  # day or night
    assert "13812345678" not in ran.stdout + ran.stderr
    status = forbear(tmp_path, "outbox", "status")
    assert status.returncode == 0, status.stderr
    assert "queued" in status.stdout and "sms" in status.stdout
    listed = forbear(tmp_path, "outbox", "list", "--status", "queued")
    assert str(ids[1]) in listed.stdout
    cancelled = forbear(tmp_path, "outbox", "cancel", str(ids[1]))
    assert cancelled.returncode == 0, cancelled.stderr
    assert "OUTBOX.MANUAL" in forbear(tmp_path, "outbox", "list", "--status", "cancelled").stdout
    refused = forbear(tmp_path, "outbox", "retry", str(ids[1]))
    assert_one_clear_line(refused, "only dead or failed")
    missing = forbear(tmp_path, "outbox", "cancel", "999999")
    assert_one_clear_line(missing, "999999")


def test_a_bad_channels_file_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "channels.yaml").write_text(
        "providers: {p: {kind: sandbox, channels: [fax]}}", encoding="utf-8"
    )
    result = forbear(tmp_path, "dispatch", "--once")
    assert_one_clear_line(result, "providers.p.channels")


def test_the_long_running_dispatcher_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from sqlalchemy import create_engine

    book_with_messages(tmp_path, 2)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FORBEAR_")} | {
        "FORBEAR_DATA_DIR": str(tmp_path)
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "forbear.cli", "dispatch", "--worker-id", "long"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    engine = create_engine(f"sqlite:///{tmp_path / 'forbear.db'}")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until the due message was handled
            with engine.connect() as conn:
                handled = conn.execute(
                    select(OutboxMessage.id).where(
                        OutboxMessage.dedupe_key == "cli-0", OutboxMessage.updated_at.isnot(None)
                    )
                ).first()
            if handled is not None:
                break
            time.sleep(0.5)
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        engine.dispose()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "claimed 1:" in out and "Traceback" not in err
    with create_engine(f"sqlite:///{tmp_path / 'forbear.db'}").connect() as conn:
        leased = conn.execute(
            select(OutboxMessage.id).where(OutboxMessage.status == "sending")
        ).all()
    assert leased == []  # nothing left claimed
