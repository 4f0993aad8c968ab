"""``forbear assistant chat`` (issue 14, item 3): a conversation on the terminal through the
real engine, as a borrower (identified) and as an SMS sender (the ID check applies); the
answers of a terminal conversation are never queued for sending."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from tests.integration.assistant.conftest import TEST_KEY, BuiltBook, fresh_forbear

from forbear.store.runs import OutboxMessage


def chat(forbear: Any, data_dir: Path, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    from assistant_model import trained_model_dir

    env = {k: v for k, v in os.environ.items() if not k.startswith("FORBEAR_")} | {
        "FORBEAR_DATA_DIR": str(data_dir),
        "FORBEAR_DATABASE_URL": forbear.settings.database_url,
        "FORBEAR_ENCRYPTION_KEY": base64.b64encode(TEST_KEY).decode("ascii"),
        "FORBEAR_ENVIRONMENT": "test",
        "FORBEAR_ASSISTANT_MODEL_DIR": str(trained_model_dir()),
    }
    return subprocess.run(
        [sys.executable, "-m", "forbear.cli", "assistant", "chat", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_chat_as_a_borrower_and_as_an_sms_sender(
    sqlite_assistant_book: BuiltBook, tmp_path: Path
) -> None:
    p = sqlite_assistant_book.book.people[70]
    with fresh_forbear(sqlite_assistant_book, tmp_path) as forbear:
        data_dir = Path(forbear.settings.data_dir)
        as_borrower = chat(
            forbear,
            data_dir,
            "hello\nhow much do I owe?\n/quit\nnot read\n",
            "--borrower",
            str(p.borrower_id),
            "--lang",
            "en",
        )
        assert as_borrower.returncode == 0, as_borrower.stderr
        assert as_borrower.stdout.startswith("< Hello")
        assert f"< Loan {p.loan_ref}" in as_borrower.stdout
        as_sender = chat(forbear, data_dir, f"我欠多少钱\n{p.id_last4}\n", "--phone", p.phone)
        assert as_sender.returncode == 0, as_sender.stderr
        lines = as_sender.stdout.splitlines()
        assert lines[0].startswith("< 为保护您的信息安全")
        assert "< 身份已核实，谢谢。" in lines and f"< 借款 {p.loan_ref}" in as_sender.stdout
        refused = chat(forbear, data_dir, "", "--lang", "fr")
        assert refused.returncode != 0 and "Traceback" not in refused.stderr
        with forbear.reading() as conn:
            queued = conn.execute(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.origin == "assistant")
            ).scalar_one()
        assert queued == 0
