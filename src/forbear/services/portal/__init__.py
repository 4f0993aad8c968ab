"""The borrower portal: sign-in by mobile number and a one-time code, and what a signed-in
borrower may see and do about their own loans.

**Sign-in.** :func:`request_code` looks the number up by its blind index (the same keyed
hash as ``borrowers.mobile_bidx``: no number is stored or compared in clear), and for a
borrower's mobile stores a 6-digit code's keyed hash (never the code) that expires after
:data:`CODE_TTL` and takes at most :data:`MAX_ATTEMPTS` guesses, and queues an SMS with
the code (encrypted) in ``portal_outbox``. An unknown number gets the same answer and the
same request row, without a code (no account enumeration). Requests are limited per
number first (:data:`PER_PHONE` within :data:`WINDOW`, one per :data:`RESEND_AFTER`); the
client address is a soft signal only, so that borrowers behind one carrier NAT do not lock
each other out: from an address with :data:`BUSY_CLIENT` requests in the window, a number
gets :data:`BUSY_CLIENT_PER_PHONE` requests from it, and only :data:`PER_CLIENT`, far beyond
any shared address, refuses the address. A refused request writes nothing.
:func:`verify_code` opens a borrower session (the sha256 of a random token, a CSRF token,
idle and absolute expiry), separate from the staff's sessions.

**Atomic under parallel requests.** Both take the per-number lock
(:func:`forbear.store.locks.lock`, ``LockSpace.PHONE``) before they read what the limits
count (a code request the address's too), so the limits are exact. A guess is counted
before it is compared (``attempts = attempts + 1`` in SQL, only while fewer than
:data:`MAX_ATTEMPTS` were made), so forty parallel guesses make exactly
:data:`MAX_ATTEMPTS` tries; a right code is spent by a conditional update that only one
transaction can win, so a code opens exactly one session.

**Own loans only.** Every use case takes the signed-in ``borrower_id`` and a loan id and
answers :class:`NotFound` for a loan that is not that borrower's, exactly as for a loan
that does not exist, before anything is written.

Use cases: what is owed and when (:func:`owed`, the ledger position today), a payment
intent (:func:`record_payment_intent`: not a payment), a promise to pay
(:func:`make_promise`, source ``portal``), a repayment plan from the offers the policy
allows an agent, the most conservative authority (:func:`plan_options`,
:func:`choose_plan`: offered and accepted at once), a dispute (:func:`dispute`: a
``dispute`` hold with a reason code), an opt-out of one channel (:func:`opt_out`), the
borrower's own contact history (:func:`contact_history`: channel, time, outcome; never who)
and their rights (:func:`rights`). Every change is audited with the actor
``portal:borrower:<id>``.

The package, by noun: :mod:`.sign_in` (codes and sessions), :mod:`.loans` (what is owed,
payment intents, promises), :mod:`.plans`, :mod:`.contact` (disputes, opt-outs, contact
history, rights) and :mod:`.complaints` (a borrower's complaint), over :mod:`.common`.
Every name callers use is importable from ``forbear.services.portal``.
"""

from forbear.services.portal.common import (
    ABSOLUTE,
    BUSY_CLIENT,
    BUSY_CLIENT_PER_PHONE,
    CODE_TEMPLATE,
    CODE_TTL,
    DISPUTE_REASONS,
    IDLE,
    MAX_ATTEMPTS,
    MAX_INTENT,
    OPT_OUT_CHANNELS,
    OUTBOX_CONTEXT,
    PER_CLIENT,
    PER_PHONE,
    RESEND_AFTER,
    TOUCH_EVERY,
    WINDOW,
    CodeRefused,
    CodeThrottled,
    actor_of,
    sha256_hex,
)
from forbear.services.portal.complaints import answer_survey, complain
from forbear.services.portal.contact import (
    ContactEntry,
    Rights,
    contact_history,
    dispute,
    opt_out,
    opted_out,
    rights,
)
from forbear.services.portal.loans import (
    LoanSummary,
    Owed,
    loans_of,
    make_promise,
    owed,
    own_loan,
    record_payment_intent,
)
from forbear.services.portal.plans import (
    PORTAL_ROLE,
    CurrentPlan,
    PlanDay,
    PlanOption,
    accept_offer,
    choose_plan,
    current_plan,
    plan_option,
    plan_options,
)
from forbear.services.portal.requests import MyRequest, my_requests
from forbear.services.portal.sign_in import (
    BorrowerSession,
    CodeSent,
    NewBorrowerSession,
    from_session,
    mobile_key,
    open_session,
    outbox_code,
    request_code,
    sign_out,
    verify_code,
)
from forbear.store.portal import PAYMENT_METHODS as PAYMENT_METHODS

__all__ = [
    "ABSOLUTE",
    "BUSY_CLIENT",
    "BUSY_CLIENT_PER_PHONE",
    "CODE_TEMPLATE",
    "CODE_TTL",
    "DISPUTE_REASONS",
    "IDLE",
    "MAX_ATTEMPTS",
    "MAX_INTENT",
    "OPT_OUT_CHANNELS",
    "OUTBOX_CONTEXT",
    "PAYMENT_METHODS",
    "PER_CLIENT",
    "PER_PHONE",
    "PORTAL_ROLE",
    "RESEND_AFTER",
    "TOUCH_EVERY",
    "WINDOW",
    "BorrowerSession",
    "CodeRefused",
    "CodeSent",
    "CodeThrottled",
    "ContactEntry",
    "CurrentPlan",
    "LoanSummary",
    "MyRequest",
    "NewBorrowerSession",
    "Owed",
    "PlanDay",
    "PlanOption",
    "Rights",
    "accept_offer",
    "actor_of",
    "answer_survey",
    "choose_plan",
    "complain",
    "contact_history",
    "current_plan",
    "dispute",
    "from_session",
    "loans_of",
    "make_promise",
    "mobile_key",
    "my_requests",
    "open_session",
    "opt_out",
    "opted_out",
    "outbox_code",
    "owed",
    "own_loan",
    "plan_option",
    "plan_options",
    "record_payment_intent",
    "request_code",
    "rights",
    "sha256_hex",
    "sign_out",
    "verify_code",
]
