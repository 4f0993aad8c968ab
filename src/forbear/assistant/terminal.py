"""``forbear assistant chat``: a conversation with the assistant on the terminal (issue
14, item 3), through the very engine the portal, SMS and the API use.

With ``--borrower ID`` the terminal speaks as that borrower, identified (channel ``cli``,
verified like a portal session). With ``--phone NUMBER`` it speaks as an SMS sender: the
number is matched to the book like an inbound SMS and the ID check applies; the answers are
not queued for sending (``deliver`` off: nothing leaves the machine). Each line read is one
message, each answer is printed (quick replies as ``[value] label``); an empty line is a
message too; end of input or ``/quit`` ends the chat. The clock is the app's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from forbear.assistant.engine import Assistant, Incoming, Outgoing

QUIT = frozenset({"/quit", "/exit", "/q"})


def _show(out: Outgoing, write: Callable[[str], None]) -> None:
    for reply in out.replies:
        for line in reply.splitlines() or [""]:
            write(f"< {line}")
    if out.options:
        write("  " + "  ".join(f"[{o.value}] {o.label}" for o in out.options))
    if out.agent_joined:
        write("  (a member of staff is answering this conversation)")
    elif out.handed_over:
        write("  (handed over to a member of staff)")


def chat(
    app: Any,
    engine: Assistant,
    *,
    lines: Iterable[str],
    write: Callable[[str], None],
    borrower_id: int | None = None,
    phone: str | None = None,
    lang: str = "zh",
) -> int:
    """Run one conversation over ``lines``; returns the number of messages sent."""
    if (borrower_id is None) == (phone is None):
        raise ValueError("give either a borrower or a phone number")
    conversation_id: int | None = None
    sent = 0
    for raw in lines:
        text = raw.rstrip("\r\n")
        if text.strip() in QUIT:
            break
        out = engine.handle(
            Incoming(
                channel="cli" if borrower_id is not None else "sms",
                text=text,
                received_at=app.now(),
                borrower_id=borrower_id,
                sender=phone,
                conversation_id=conversation_id if borrower_id is not None else None,
                language=lang,
            )
        )
        conversation_id = out.conversation_id
        sent += 1
        _show(out, write)
    return sent
