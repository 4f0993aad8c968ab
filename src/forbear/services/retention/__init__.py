"""Retention: erase what is past its retention period (REGULATIONS.md CN.RECORD.RETAIN,
PIPL art. 47: personal data is deleted once the purpose is fulfilled and the retention
period has ended).

Policy as implemented (confidence **I**, our inference; lenders may lengthen it):

- Only borrowers whose loans are **all closed** are considered: a loan is closed when it
  is written off (``written_off_on``), or its latest account state on or before
  ``as_of`` is ``paid_off``/``written_off``, or its payments cover the whole schedule.
  A borrower without loans counts as closed.
- Its **last activity** is the latest of: loan start, instalment due dates, payments,
  write-off, account-state dates, contact attempts, demands, notices and complaints
  (the borrower row's creation date only for a borrower with none of these).
- It is past retention when ``as_of`` is on or after the later of *last activity +
  3 years* and *last instalment due date + limitation (3 years) + 1 year* (CN.LIMITATION
  and CN.RECORD.RETAIN: "3 years after last activity or limitation + 1 year, whichever
  is later").

What happens to such a borrower, in one transaction. Every table of the schema was gone
through column by column (``docs/privacy.md`` has the table); a test checks that no table
with a ``borrower_id``, ``loan_id`` or ``*_enc`` column escapes this list:

- ``borrowers``: the name becomes ``"已匿名 anonymised"`` (encrypted like any name, so
  every reader keeps working); national ID, mobile, e-mail and address and their blind
  indexes are set to NULL; ``city`` is cleared (``province`` stays for analytics);
  ``external_ref`` (the lender's customer number, which links back to the person) is
  replaced by ``ANON-<id>``; ``anonymised_at`` is set. Already anonymised borrowers are
  skipped, so a purge can be run again.
- **Deleted** (no law asks to keep them, and each identifies the person or holds a
  secret): ``contact_points`` (values, blind indexes, contact persons' names); the
  portal's ``portal_codes`` (the phone's blind index, a keyed hash of the client
  address, the code's hash; every row of the borrower and every row requested for one
  of the borrower's phone numbers, known or not), ``portal_sessions`` (token hash, CSRF
  token), ``portal_outbox`` (the encrypted sign-in code) and ``article_views``.
- **Kept as the record of collection, de-identified** (CN.RECORD.RETAIN): the free text a
  person typed is erased -- ``complaints`` description, extension reason and resolution
  and ``case_library`` lessons become the encrypted marker ``"已匿名 anonymised"`` (the
  columns are NOT NULL or show that text existed), ``holds.reason_enc``,
  ``promises.cancel_reason_enc``, ``plans.cancel_reason_enc``,
  ``legal_cases.closed_reason_enc`` and ``legal_case_events.notes_enc`` become NULL; the
  borrower's stated ``income`` and ``expenses`` leave ``plans.terms``; the court's case
  number (``legal_cases`` and ``legal_case_events.case_number``; court records are
  public and name the parties) becomes NULL. Holds stay (the record that contact
  stopped when it had to; complaints point at them); every link to a deleted contact
  point (``contact_point_id`` in any table) becomes NULL. Contact attempts, demands,
  notices, promises, plans, satisfaction answers, legal cases and their costs and
  documents' hashes hold no other personal data and stay.
- Loans, instalments, payments, account states and scores stay for accounting; they now
  point to an anonymous borrower. The lender's loan and payment numbers stay: they are
  the keys of the lender's own books, which keep their own retention.
- The audit trail is append-only and hash-chained and holds ids and codes, never
  personal data (``forbear.store.audit``); it is not rewritten.

**The throttles' records** expire whatever the borrower: ``sign_in_attempts`` after
:data:`forbear.services.sessions.KEEP_ATTEMPTS` (one day; the sign-in limits look back
15 minutes, and the audit trail keeps every sign-in and failure) and ``unmask_events``
after :data:`forbear.services.unmasking.KEEP` (two days; the unmask throttle looks back a
day). Sign-ins and unmaskings also purge them now and then as they go; the retention run
forgets them even when nobody signs in (:func:`expire_throttle_records`), and counts them
as ``sign_in_attempts`` and ``unmask_events`` (rows deleted, any borrower).

**The assistant's conversations** (:mod:`forbear.services.assistant.retention`): a
borrower's own are deleted with the borrower's other traces above, turns and all; those of
senders on no file and of third parties 180 days after their last turn; the engine's form
slots are cleared 30 days after a conversation's last turn.

One audit event ``retention.purge`` holds ``as_of`` and the counts per table (rows
deleted or de-identified). With ``dry_run`` the same work runs inside a savepoint that is
rolled back, so the counts are exact and nothing changes (no audit event either).

The package: :mod:`.policy` (who is past retention, what happens to each table) and
:mod:`.purge` (doing it). Every name callers use is importable from
``forbear.services.retention``.
"""

from forbear.services.retention.policy import (
    ACTIVITY_BY_BORROWER,
    ACTIVITY_BY_LOAN,
    AFTER_LIMITATION_YEARS,
    ANONYMISED,
    ANONYMISED_NAME,
    ANONYMISED_TEXT,
    DEIDENTIFIED,
    DELETED,
    ERASED_WITH_BORROWER,
    KEPT,
    LIMITATION_YEARS,
    PLAN_TERMS_ERASED,
    RETAIN_YEARS,
    REVIEWED,
    PurgeReport,
    add_years,
    due_for_purge,
    retention_end,
)
from forbear.services.retention.purge import expire_throttle_records, purge

__all__ = [
    "ACTIVITY_BY_BORROWER",
    "ACTIVITY_BY_LOAN",
    "AFTER_LIMITATION_YEARS",
    "ANONYMISED",
    "ANONYMISED_NAME",
    "ANONYMISED_TEXT",
    "DEIDENTIFIED",
    "DELETED",
    "ERASED_WITH_BORROWER",
    "KEPT",
    "LIMITATION_YEARS",
    "PLAN_TERMS_ERASED",
    "RETAIN_YEARS",
    "REVIEWED",
    "PurgeReport",
    "add_years",
    "due_for_purge",
    "expire_throttle_records",
    "purge",
    "retention_end",
]
