"""A message as it will be sent: the approved template (or an education article) filled
with the borrower's live situation, checked by the content filter after substitution.

Used by the dispatcher at the moment of sending (one :class:`Renderer` per batch: the
templates, the hotline, names and products are read once for the batch) and by the
workbench's preview (:func:`render_message`, one message). Both give the same text.

Variables (``template_library/CN_default.yaml``): ``{name}`` (masked on channels that a
bystander may see on a lock screen: SMS, app push, chat, AI voice; in full on e-mail and
letters), ``{amount}`` (yuan: what is overdue now, else the next instalment), ``{due_date}``
(the oldest unpaid due date, else the next), ``{product}``, ``{hotline}`` (the lender's, from
the legal configuration's letter settings), ``{link}`` (a signed portal link,
:mod:`forbear.services.portal.links`) and ``{loan_ref}``. A placeholder with no value for
this borrower raises :class:`MissingVariable` (rule id ``OUTBOX.MISSING_VARIABLE``): the
message is never sent half-filled. A text the filter refuses raises
:class:`~forbear.domain.compliance.content.ContentRejected` with its rule ids. Neither error
carries the text or a value.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Connection, select

from forbear.domain.compliance.content import (
    CheckContext,
    ContentRejected,
    Lang,
    check_text,
    fill,
    placeholders,
)
from forbear.domain.compliance.schema import Channel
from forbear.domain.errors import ForbearError, NotFound, ValidationError
from forbear.domain.masking import mask_name
from forbear.domain.money import format_yuan
from forbear.services import education, templates
from forbear.services.portal import links
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.models import Borrower, Loan, Product
from forbear.store.outreach import in_ints

MISSING_VARIABLE = "OUTBOX.MISSING_VARIABLE"
MISSING_TEMPLATE = "OUTBOX.MISSING_TEMPLATE"

# Channels whose text a bystander may read on a lock screen or hear: the name is masked.
_MASKED_NAME = frozenset({Channel.SMS, Channel.APP_PUSH, Channel.IM, Channel.AI_CALL})

# Forbear's own service messages (origin ``system``), used when the lender has not
# approved a version of its own under the same code. Checked by the filter like any text.
SYSTEM_TEMPLATES: dict[str, dict[str, str]] = {
    "system.opt_out_confirm": {
        "zh": "【退订确认】您已成功退订此渠道的提醒，我们将不再通过此渠道与您联系。"
        "如有疑问，请致电{hotline}。",
        "en": "You have been unsubscribed: we will not contact you on this channel again. "
        "Questions: call {hotline}.",
    },
}


class MissingVariable(ForbearError):
    """A template needs a value this borrower does not have (no amount owed, no due date,
    no product). Names the placeholders only."""

    rule_id = MISSING_VARIABLE

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(names)
        super().__init__(f"{MISSING_VARIABLE}: no value for {', '.join(self.names)}")


class MissingTemplate(ForbearError):
    """No approved template (nor article) by that code."""

    rule_id = MISSING_TEMPLATE

    def __init__(self, code: str) -> None:
        super().__init__(f"{MISSING_TEMPLATE}: no approved template {code[:64]}")
        self.code = code


@dataclass(frozen=True)
class Rendered:
    """The text as it will be sent. ``params`` are the variables the template used (for
    providers that take a template id and parameters); ``subject`` for e-mail and letters."""

    subject: str | None
    body: str
    params: Mapping[str, str]
    lang: Lang
    template: str | None = None
    article: str | None = None


@dataclass(frozen=True)
class _Template:
    code: str
    body: str
    lang: Lang
    audience: str
    channel: str


def _date_text(day: date, lang: Lang) -> str:
    if lang == "zh":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {day.strftime('%B %Y')}"


def situation_values(loan: Mapping[str, Any] | None, lang: Lang) -> dict[str, str]:
    """The money and date variables of a loan's live situation row (LOAN_SITUATION);
    a variable with nothing to say (nothing owed, no due date) is absent."""
    if loan is None:
        return {}
    found: dict[str, str] = {}
    overdue = int(loan.get("overdue_total") or 0)
    upcoming = int(loan.get("next_due_amount") or 0)
    if overdue > 0:
        found["amount"] = format_yuan(overdue)
        day = loan.get("oldest_unpaid_due_date") or loan.get("next_due_date")
    elif upcoming > 0:
        found["amount"] = format_yuan(upcoming)
        day = loan.get("next_due_date")
    else:
        day = None
    if day is not None:
        found["due_date"] = _date_text(day, lang)
    return found


@dataclass
class Renderer:
    """Renders many messages at one moment with the reads shared: approved templates by
    code, the hotline, borrowers' names and loans' products (:meth:`prefetch`)."""

    conn: Connection
    vault: PiiVault
    public_url: str
    now: datetime
    _templates: dict[str, _Template | None] = field(default_factory=dict)
    _names: dict[int, str | None] = field(default_factory=dict)
    _products: dict[int, tuple[str, str, str]] = field(default_factory=dict)
    _hotline: str | None = None
    _pack: str | None = None

    # --- shared reads -------------------------------------------------------------------

    def prefetch(self, borrower_ids: Iterable[int], loan_ids: Iterable[int]) -> None:
        """Read the names of ``borrower_ids`` and the products of ``loan_ids`` in one go."""
        wanted = sorted({int(b) for b in borrower_ids} - set(self._names))
        for chunk in _chunks(wanted):
            rows = self.conn.execute(
                select(Borrower.id, Borrower.name_enc, Borrower.anonymised_at).where(
                    in_ints(self.conn, Borrower.id, chunk)
                )
            )
            for row in rows:
                self._names[int(row.id)] = (
                    None
                    if row.anonymised_at is not None or row.name_enc is None
                    else self.vault.decrypt(row.name_enc, context=Contexts.BORROWER_NAME)
                )
        loans = sorted({int(x) for x in loan_ids} - set(self._products))
        for chunk in _chunks(loans):
            rows = self.conn.execute(
                select(Loan.id, Loan.external_ref, Product.name_zh, Product.name_en)
                .join(Product, Product.id == Loan.product_id)
                .where(in_ints(self.conn, Loan.id, chunk))
            )
            for row in rows:
                self._products[int(row.id)] = (
                    str(row.name_zh),
                    str(row.name_en),
                    str(row.external_ref),
                )

    def _template(self, code: str) -> _Template | None:
        if code not in self._templates:
            try:
                info = templates.approved(self.conn, code)
                self._templates[code] = _Template(
                    code, info.body, info.lang, info.audience, info.channel
                )
            except NotFound:
                builtin = SYSTEM_TEMPLATES.get(code)
                self._templates[code] = (
                    None
                    if builtin is None
                    else _Template(code, builtin["zh"], "zh", "debtor", Channel.SMS.value)
                )
        return self._templates[code]

    def loan_ref(self, loan_id: int) -> str:
        """The lender's own reference of a loan (no personal data)."""
        if loan_id not in self._products:
            self.prefetch([], [loan_id])
        found = self._products.get(loan_id)
        return "" if found is None else found[2]

    def hotline(self) -> str:
        if self._hotline is None:
            from forbear.services.legal.configuration import config_in_force

            self._hotline = config_in_force(self.conn).letter.hotline
        return self._hotline

    def pack(self) -> str:
        """The lender's rule pack: the rule ids of the content filter's findings."""
        if self._pack is None:
            self._pack = templates.lender_pack(self.conn)
        return self._pack

    # --- one message --------------------------------------------------------------------

    def values(
        self,
        *,
        borrower_id: int,
        loan_id: int | None,
        channel: Channel,
        lang: Lang,
        loan: Mapping[str, Any] | None,
        needed: Collection[str] | None = None,
    ) -> dict[str, str]:
        """Every variable this borrower has a value for (absent: no value); of those in
        ``needed`` only, when given (the portal link is signed, and the name decrypted
        and masked, only for a template that shows them)."""

        def wanted(*names: str) -> bool:
            return needed is None or any(n in needed for n in names)

        if borrower_id not in self._names or (
            loan_id is not None and loan_id not in self._products
        ):
            self.prefetch([borrower_id], [] if loan_id is None else [loan_id])
        found = situation_values(loan, lang)
        name = self._names.get(borrower_id) if wanted("name") else None
        if name:
            found["name"] = mask_name(name) if channel in _MASKED_NAME else name
        product = self._products.get(loan_id) if loan_id is not None else None
        if product is not None:
            found["product"] = product[0] if lang == "zh" else product[1]
            found["loan_ref"] = product[2]
        if wanted("hotline"):
            found["hotline"] = self.hotline()
        if wanted("link"):
            found["link"] = links.link(self.vault, self.public_url, borrower_id, now=self.now)
        return found

    def render(
        self,
        *,
        borrower_id: int,
        loan_id: int | None,
        channel: str,
        template: str | None = None,
        article: str | None = None,
        loan: Mapping[str, Any] | None = None,
        lang: str = "zh",
    ) -> Rendered:
        """The message of ``template`` (or ``article``) for this borrower and loan, whose
        live situation row is ``loan``. Raises :class:`MissingVariable`,
        :class:`MissingTemplate` or :class:`ContentRejected`."""
        try:
            medium = Channel(channel)
        except ValueError:
            raise ValidationError("channel", "not a channel") from None
        time_barred = bool(loan is not None and loan.get("limitation_expired"))
        if article:
            return self._article(borrower_id, medium, article, lang, time_barred)
        if not template:
            raise ValidationError("template", "a message needs a template or an article")
        found = self._template(template)
        if found is None:
            raise MissingTemplate(template)
        needed = placeholders(found.body)
        values = self.values(
            borrower_id=borrower_id,
            loan_id=loan_id,
            channel=medium,
            lang=found.lang,
            loan=loan,
            needed=needed,
        )
        missing = [name for name in needed if not values.get(name)]
        if missing:
            raise MissingVariable(missing)
        params = {name: values[name] for name in needed}
        text = fill(found.body, params).text
        violations = check_text(
            text,
            lang=found.lang,
            audience=cast(Any, found.audience),
            context=templates.context_for(
                medium.value, found.lang, time_barred=time_barred, pack=self.pack()
            ),
        )
        if violations:
            raise ContentRejected(f"template {template} as rendered", violations)
        return Rendered(
            subject=_subject(medium, found.lang),
            body=text,
            params=params,
            lang=found.lang,
            template=template,
        )

    def _article(
        self, borrower_id: int, medium: Channel, slug: str, lang: str, time_barred: bool
    ) -> Rendered:
        chosen: Lang = "en" if lang == "en" else "zh"
        try:
            found = education.article(slug, chosen)
        except NotFound:
            raise MissingTemplate(slug) from None
        link = links.link(self.vault, self.public_url, borrower_id, now=self.now)
        if medium in (Channel.EMAIL, Channel.LETTER):
            text = f"{found.title}\n\n{found.summary}\n\n{found.body}"
        elif chosen == "zh":
            text = f"【金融知识】{found.title}：{found.summary} 详见 {link}"
        else:
            text = f"{found.title}: {found.summary} More: {link}"
        violations = check_text(
            text, lang=chosen, audience="debtor", context=CheckContext(time_barred=time_barred)
        )
        if violations:
            raise ContentRejected(f"article {slug} as rendered", violations)
        return Rendered(
            subject=found.title if medium in (Channel.EMAIL, Channel.LETTER) else None,
            body=text,
            params={"title": found.title, "link": link},
            lang=chosen,
            article=slug,
        )


def _subject(medium: Channel, lang: Lang) -> str | None:
    if medium not in (Channel.EMAIL, Channel.LETTER):
        return None
    return "还款提醒" if lang == "zh" else "Repayment reminder"


def _chunks(ids: list[int], size: int = 500) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def render_message(
    conn: Connection,
    vault: PiiVault,
    *,
    now: datetime,
    today: date,
    public_url: str,
    outbox_row: Mapping[str, Any] | None = None,
    borrower_id: int | None = None,
    loan_id: int | None = None,
    channel: str | None = None,
    template: str | None = None,
    article: str | None = None,
    lang: str = "zh",
) -> Rendered:
    """One message, rendered against the borrower's live situation on ``today`` at
    ``now``: from an outbox row (its ``borrower_id, loan_id, channel, template,
    article``) or from those values (the workbench's preview). Raises
    :class:`MissingVariable`, :class:`MissingTemplate`, :class:`ContentRejected`,
    :class:`NotFound` (no such loan)."""
    from forbear.services import situation

    if outbox_row is not None:
        borrower_id = int(outbox_row["borrower_id"])
        loan_id = outbox_row.get("loan_id")
        channel = str(outbox_row["channel"])
        template = outbox_row.get("template")
        article = outbox_row.get("article")
    if borrower_id is None or channel is None:
        raise ValidationError("borrower_id", "a borrower and a channel are needed")
    loan: dict[str, Any] | None = None
    if loan_id is not None:
        found, loan = situation.of_loan(conn, int(loan_id), today, now)
        owner = found.loans["borrower_id"].to_list()[:1]
        if owner and int(owner[0]) != int(borrower_id):
            raise NotFound("loan", str(loan_id))
    renderer = Renderer(conn, vault, public_url, now)
    return renderer.render(
        borrower_id=int(borrower_id),
        loan_id=None if loan_id is None else int(loan_id),
        channel=channel,
        template=template,
        article=article,
        loan=loan,
        lang=lang,
    )
