"""The borrower assistant's use cases (issue 14): its conversations, their transcripts,
identity checks and the handoff to a person. The assistant front end
(:mod:`forbear.assistant`) calls these and, for what a borrower may do (promises, plans,
disputes, complaints, opt-outs), the very use cases of the portal
(:mod:`forbear.services.portal`), so nothing the assistant does can differ from them.

Transcripts are personal data: every turn's text is encrypted (its own key context),
masked by role when staff read it, covered by retention, the borrower's export and key
rotation; the compliance console reads one with an audited purpose.

Modules: :mod:`.conversations` (open under lock, turns, the engine's state),
:mod:`.identity` (the ID-digits check), :mod:`.handoff` (to the agents' queue, the
vulnerability hold, "not my number"), :mod:`.outbound` (answers by SMS / app through the
outbox), :mod:`.staff` (the agents' queue and actions), :mod:`.transcripts` (reading),
:mod:`.retention` (how long they are kept).

Where the signatures differ from the issue's first sketch: :func:`take_over`,
:func:`release` and :func:`close` take the ``vault`` (they may record a system turn,
encrypted like every turn); the staff functions and :func:`transcript` take ``now`` (and
an optional ``today``: the business day whose book date the bucket scope reads);
:func:`record_turn` takes an optional ``outbox_id`` (the outbox row that carried the
turn, which the dispatcher's quiet-hours check follows back to the borrower's message);
:func:`flag_vulnerable` and :func:`mark_wrong_number` return the new hold's id or None.
"""

from forbear.services.assistant.conversations import (
    IDLE,
    MAX_TEXT,
    Conversation,
    Turn,
    get_conversation,
    lock_conversation,
    open_conversation,
    record_turn,
    save_state,
    turns_of,
    zone_of,
)
from forbear.services.assistant.handoff import flag_vulnerable, hand_over, mark_wrong_number
from forbear.services.assistant.identity import (
    MAX_FAILURES,
    Verification,
    VerifyOutcome,
    verify_identity,
)
from forbear.services.assistant.outbound import queue_outbound
from forbear.services.assistant.staff import (
    QueueEntry,
    agent_reply,
    close,
    find_conversation,
    queue,
    release,
    take_over,
)
from forbear.services.assistant.transcripts import (
    borrower_conversations,
    borrower_transcript,
    transcript,
)
from forbear.store.assistant import (
    ConversationChannel,
    ConversationStatus,
    HandoffReason,
    TurnRole,
    VerifiedBy,
)

__all__ = [
    "IDLE",
    "MAX_FAILURES",
    "MAX_TEXT",
    "Conversation",
    "ConversationChannel",
    "ConversationStatus",
    "HandoffReason",
    "QueueEntry",
    "Turn",
    "TurnRole",
    "Verification",
    "VerifiedBy",
    "VerifyOutcome",
    "agent_reply",
    "borrower_conversations",
    "borrower_transcript",
    "close",
    "find_conversation",
    "flag_vulnerable",
    "get_conversation",
    "hand_over",
    "lock_conversation",
    "mark_wrong_number",
    "open_conversation",
    "queue",
    "queue_outbound",
    "record_turn",
    "release",
    "save_state",
    "take_over",
    "transcript",
    "turns_of",
    "verify_identity",
    "zone_of",
]
