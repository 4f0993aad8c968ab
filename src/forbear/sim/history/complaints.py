"""Complaints on the demo book (``forbear demo``): the few a collection floor receives in a
month, so that the dashboard's complaint rate and the compliance console's queue are not
empty.

About :data:`PER_10K_CONTACTS` complaints per 10,000 contacts of the month's history
(:mod:`.contacts`), each about one of those contacts (mostly calls that connected or were
refused: a complaint follows a conversation), received a few hours after it, through the
complaints use case (:func:`forbear.services.complaints.cases.file_complaint`: the SLA
clock, the complaint hold, the linked contact, the audit trail). Those received more than
:data:`ANSWERED_AFTER_DAYS` days before ``as_of`` have been worked, answered and closed
within the 15-day deadline (CN.COMPLAINT.SLA), which releases their hold; the recent ones
are still open. Same seed and book, same complaints; a rerun adds none.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

import numpy as np
from sqlalchemy import Connection, exists, select

from forbear.domain.complaints import ComplaintCategory, ComplaintSource, RootCause
from forbear.domain.compliance.schema import Channel, Outcome
from forbear.services.complaints import cases
from forbear.sim.history.promises import DEMO_PREFIX
from forbear.store.complaints import Complaint
from forbear.store.contacts import ContactAttempt
from forbear.store.crypto import PiiVault

PER_10K_CONTACTS = 6  # within what consumer-finance lenders report to their regulators
ANSWERED_AFTER_DAYS = 10  # received earlier than this: answered and closed by now
DESK = "system:demo-complaints-desk"

# what borrowers complain about, and how often (the categories of domain.complaints)
CATEGORIES = (
    (ComplaintCategory.ATTITUDE, 0.30),
    (ComplaintCategory.AMOUNT, 0.25),
    (ComplaintCategory.HARASSMENT, 0.20),
    (ComplaintCategory.OTHER, 0.15),
    (ComplaintCategory.THIRD_PARTY, 0.05),
    (ComplaintCategory.PRIVACY, 0.05),
)
SOURCES = (
    (ComplaintSource.AGENT, 0.5),
    (ComplaintSource.PORTAL, 0.4),
    (ComplaintSource.REGULATOR, 0.1),
)
WORDS = {
    ComplaintCategory.ATTITUDE: "借款人反映催收员通话时语气生硬，要求更换催收员。",
    ComplaintCategory.AMOUNT: "借款人对罚息和逾期金额有疑问，认为多收了费用，要求核对明细。",
    ComplaintCategory.HARASSMENT: "借款人反映一天内接到多次来电，影响工作，要求减少联系。",
    ComplaintCategory.OTHER: "借款人希望延期还款，对处理进度不满意。",
    ComplaintCategory.THIRD_PARTY: "借款人反映家人接到了关于其借款的电话，要求停止联系家人。",
    ComplaintCategory.PRIVACY: "借款人询问其个人信息的使用范围，要求说明。",
}
ANSWERS = {
    ComplaintCategory.ATTITUDE: (
        RootCause.AGENT_CONDUCT,
        "已回听录音并致歉，已更换催收员并安排话术培训。",
    ),
    ComplaintCategory.AMOUNT: (
        RootCause.NO_FAULT,
        "已向借款人逐项说明应还金额与罚息计算，金额无误。",
    ),
    ComplaintCategory.HARASSMENT: (
        RootCause.CONTACT_RULES,
        "已核查联系记录，调整联系频次并向借款人致歉。",
    ),
    ComplaintCategory.OTHER: (RootCause.PROCESS, "已与借款人沟通延期方案并告知办理进度。"),
    ComplaintCategory.THIRD_PARTY: (
        RootCause.CONTACT_RULES,
        "已核查，停止联系第三方并向借款人致歉。",
    ),
    ComplaintCategory.PRIVACY: (RootCause.NO_FAULT, "已说明个人信息的使用目的与范围。"),
}


def seed_complaints(conn: Connection, vault: PiiVault, as_of: date, *, seed: int) -> int:
    """File the month's complaints (module docstring); returns how many (0 on a rerun)."""
    if conn.execute(select(exists().where(Complaint.filed_by.like(f"{DEMO_PREFIX}%")))).scalar():
        return 0
    if conn.execute(select(exists().where(Complaint.filed_by == DESK))).scalar():
        return 0
    start = datetime.combine(as_of - timedelta(days=30), time(0), tzinfo=UTC)
    end = datetime.combine(as_of, time(0), tzinfo=UTC)
    rows = conn.execute(
        select(
            ContactAttempt.id,
            ContactAttempt.borrower_id,
            ContactAttempt.loan_id,
            ContactAttempt.actor,
            ContactAttempt.at,
            ContactAttempt.outcome,
        )
        .where(
            ContactAttempt.at >= start,
            ContactAttempt.at < end,
            ContactAttempt.allowed.is_(True),
            ContactAttempt.channel == Channel.CALL.value,
        )
        .order_by(ContactAttempt.id)
    ).all()
    contacts = conn.execute(
        select(ContactAttempt.id).where(ContactAttempt.at >= start, ContactAttempt.at < end)
    ).all()
    wanted = round(len(contacts) * PER_10K_CONTACTS / 10_000)
    talked = [r for r in rows if r.outcome in (Outcome.CONNECTED.value, Outcome.REFUSED.value)]
    if wanted == 0 or not talked:
        return 0
    rng = np.random.default_rng(seed + 11)
    picks = rng.choice(len(talked), size=min(wanted, len(talked)), replace=False)
    made = 0
    seen: set[int] = set()
    for index in sorted(int(i) for i in picks):
        row = talked[index]
        if row.borrower_id in seen:  # one complaint per borrower in the month
            continue
        seen.add(row.borrower_id)
        category = _draw(rng, CATEGORIES)
        source = _draw(rng, SOURCES)
        received = _aware(row.at) + timedelta(hours=int(rng.integers(1, 6)))
        if received >= end:
            continue
        filed_by = row.actor if source is ComplaintSource.AGENT else DESK
        complaint_id = cases.file_complaint(
            conn,
            vault,
            borrower_id=row.borrower_id,
            loan_id=row.loan_id,
            source=source.value,
            category=category.value,
            description=WORDS[category],
            actor=filed_by,
            now=received,
            contact_attempt_ids=[row.id],
        )
        made += 1
        if received < end - timedelta(days=ANSWERED_AFTER_DAYS):
            worked = received + timedelta(days=1)
            answered = received + timedelta(days=int(rng.integers(3, 10)))
            cause, answer = ANSWERS[category]
            cases.start_work(conn, complaint_id, actor=DESK, now=worked)
            cases.resolve(
                conn,
                vault,
                complaint_id,
                resolution=answer,
                root_cause=cause.value,
                actor=DESK,
                now=answered,
            )
            cases.close(conn, complaint_id, actor=DESK, now=answered + timedelta(days=1))
    return made


T = TypeVar("T")


def _draw(rng: np.random.Generator, choices: tuple[tuple[T, float], ...]) -> T:
    weights = np.array([w for _, w in choices])
    return choices[int(rng.choice(len(choices), p=weights / weights.sum()))][0]


def _aware(moment: datetime) -> datetime:
    """A stored moment as UTC (SQLite gives it back without its zone)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
