"""``forbear contact`` and ``forbear explain``: contacts through the compliance gate,
holds, outcomes, and why a contact would be allowed or blocked."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import typer

from forbear.bootstrap import Forbear
from forbear.cli.common import EXIT_ERROR, cli_actor, console, open_app
from forbear.domain.errors import ValidationError

app = typer.Typer(help="Contacts: make one through the compliance gate, holds, outcomes.")
explain_app = typer.Typer(help="Explain a decision in plain Chinese or English.")

ContactChannel = Annotated[
    str, typer.Option("--channel", help="call, ai_call, sms, im, email, app_push, letter, visit")
]
ContactAt = Annotated[
    str | None,
    typer.Option("--at", help='"YYYY-MM-DD HH:MM" in the lender\'s time zone (default: now)'),
]
ContactPointOpt = Annotated[
    int | None,
    typer.Option("--contact-point", help="contact point id (default: the debtor's primary)"),
]
AgencyOpt = Annotated[int | None, typer.Option("--agency", help="agency id (default: own staff)")]
PurposeOpt = Annotated[
    str,
    typer.Option(
        "--purpose",
        help="collect (discuss the debt) or locate (ask a third party to have the debtor"
        " call back, no word of the debt; once the debtor is unreachable)",
    ),
]


def _contact_moment(app_: Forbear, text: str | None) -> datetime:
    from datetime import UTC

    if text is None:
        return app_.now()
    try:
        naive = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise ValidationError("--at", f'not a time (use "YYYY-MM-DD HH:MM"): {text!r}') from None
    return naive.replace(tzinfo=app_.settings.zone).astimezone(UTC)


def _print_contact_decision(decision: object, lines: list[str], lang: str) -> None:
    from zoneinfo import ZoneInfo

    from forbear.services.contacts import ContactDecision

    assert isinstance(decision, ContactDecision)
    zone = ZoneInfo(str(decision.row["timezone"]))
    when = decision.at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    zh = lang == "zh"
    if decision.allowed:
        head = "[green]✓ 允许联系[/]" if zh else "[green]✓ allowed[/]"
    else:
        head = "[red]✗ 不得联系[/]" if zh else "[red]✗ blocked[/]"
    where = "债务人当地时间" if zh else "debtor's local time"
    console.print(
        f"{head}  {decision.channel.value} · {decision.party.value} · {decision.purpose.value}"
        f" · {when} ({where}, {zone})",
        highlight=False,
    )
    if decision.blocked_by:
        label = "规则" if zh else "rules"
        console.print(f"  {label}: {', '.join(decision.blocked_by)}", highlight=False)
    if decision.earliest_allowed_at is not None:
        earliest = decision.earliest_allowed_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        label = "最早可联系时间" if zh else "earliest allowed"
        console.print(f"  {label}: {earliest}", highlight=False)
    for line in lines:
        console.print(f"  • {line}", highlight=False, markup=False)


@explain_app.command("contact")
def explain_contact(
    loan_ref: str,
    channel: ContactChannel,
    at: ContactAt = None,
    contact_point: ContactPointOpt = None,
    agency: AgencyOpt = None,
    lang: Annotated[str, typer.Option("--lang", help="zh or en")] = "zh",
    purpose: PurposeOpt = "collect",
    template: Annotated[str | None, typer.Option("--template", help="template code")] = None,
) -> None:
    """Would this contact be allowed at that moment, and why (rule ids and sources)?
    Nothing is recorded."""
    from forbear.domain.compliance.gate import explain
    from forbear.services import contacts

    if lang not in ("zh", "en"):
        raise ValidationError("--lang", "zh or en")
    forbear = open_app()
    with forbear.transaction() as conn:
        rules = contacts.lender_rules(forbear.settings.data_dir, conn)
        decision = contacts.evaluate_contact(
            conn,
            loan_id=contacts.loan_id_for_ref(conn, loan_ref),
            channel=channel,
            at=_contact_moment(forbear, at),
            rules=rules,
            contact_point_id=contact_point,
            agency_id=agency,
            purpose=purpose,
            template_code=template,
        )
    _print_contact_decision(decision, explain(decision.row, rules, _lang(lang)), lang)
    if decision.purpose.value == "locate":
        _print_locate_script(lang)


def _print_locate_script(lang: str) -> None:
    """The no-disclosure script of a location contact (CN.3P.NO_DISCLOSE)."""
    from forbear.domain.scripts import locate_script

    console.print(
        "  寻址话术（不披露债务）:" if lang == "zh" else "  Location script (no word of the debt):",
        highlight=False,
    )
    for line in locate_script():
        console.print(f"    - {line.text(lang, '')}", highlight=False, markup=False)


def _lang(lang: str) -> Literal["zh", "en"]:
    if lang == "zh":
        return "zh"
    if lang == "en":
        return "en"
    raise ValidationError("--lang", "zh or en")


@app.command("make")
def contact_make(
    loan_ref: str,
    channel: ContactChannel,
    at: ContactAt = None,
    contact_point: ContactPointOpt = None,
    agency: AgencyOpt = None,
    template: Annotated[str | None, typer.Option("--template", help="template code")] = None,
    lang: Annotated[str, typer.Option("--lang", help="zh or en")] = "zh",
    purpose: PurposeOpt = "collect",
) -> None:
    """Ask the gate and record the attempt with its decision (blocked ones too); exits
    non-zero when blocked. Every answer is explained; a location contact also prints the
    no-disclosure script."""
    from forbear.domain.compliance.gate import explain
    from forbear.domain.compliance.gate.third_party import purpose_of
    from forbear.services import contacts

    chosen_lang = _lang(lang)  # bad options are refused before anything is opened
    chosen = purpose_of(purpose)
    forbear = open_app()
    with forbear.transaction() as conn:
        rules = contacts.lender_rules(forbear.settings.data_dir, conn)
        decision = contacts.request_contact(
            conn,
            loan_id=contacts.loan_id_for_ref(conn, loan_ref),
            channel=channel,
            at=_contact_moment(forbear, at),
            actor=cli_actor(),
            rules=rules,
            contact_point_id=contact_point,
            agency_id=agency,
            template_code=template,
            now=forbear.now(),
            purpose=chosen,
        )
    _print_contact_decision(decision, explain(decision.row, rules, chosen_lang), lang)
    if decision.allowed and decision.purpose.value == "locate" and template is None:
        _print_locate_script(lang)
    console.print(f"  attempt {decision.attempt_id} recorded", highlight=False)
    if not decision.allowed:
        raise typer.Exit(EXIT_ERROR)


@app.command("outcome")
def contact_outcome(
    attempt_id: int,
    outcome: Annotated[
        str, typer.Argument(help="connected, no_answer, busy, invalid_number, refused, ...")
    ],
) -> None:
    """Record what an allowed attempt came to (once)."""
    from forbear.services import contacts

    forbear = open_app()
    with forbear.transaction() as conn:
        result = contacts.record_outcome(conn, attempt_id, outcome, cli_actor(), now=forbear.now())
    result.raise_if_conflict(outcome)
    if not result.recorded:
        console.print(f"attempt {attempt_id} already had outcome {outcome}: nothing changed")
        return
    console.print(f"[green]✓[/] attempt {attempt_id}: {outcome}")
    if result.hold_id is not None:  # a third party refused: that contact point is held
        console.print(
            f"  hold {result.hold_id} (do_not_contact) on that contact point only"
            " (CN.3P.REFUSAL); release it with: forbear contact release",
            highlight=False,
        )


@app.command("hold")
def contact_hold(
    loan_ref: str,
    kind: Annotated[
        str, typer.Option("--kind", help="dispute, complaint, cease, opt_out, do_not_contact, ...")
    ],
    channel: Annotated[
        str | None, typer.Option("--channel", help="opt-outs only: the medium")
    ] = None,
    all_loans: Annotated[
        bool, typer.Option("--all-loans", help="every loan of the borrower")
    ] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="why (stored encrypted)")] = None,
) -> None:
    """Put a hold on a loan from now until released."""
    from forbear.services import contacts

    forbear = open_app()
    now = forbear.now()
    with forbear.transaction() as conn:
        hold_id = contacts.add_hold(
            conn,
            loan_id=contacts.loan_id_for_ref(conn, loan_ref),
            kind=kind,
            actor=cli_actor(),
            since=now,
            channel=channel,
            all_loans=all_loans,
            typed_reason=reason,
            vault=forbear.vault,
            now=now,
        )
    console.print(f"[green]✓[/] hold {hold_id} ({kind}) on {loan_ref}", highlight=False)


@app.command("release")
def contact_release(
    hold_id: int,
    reason: Annotated[
        str, typer.Option("--reason", help="why the hold ends (stored encrypted)")
    ] = "released at the command line",
    resolution: Annotated[
        str | None,
        typer.Option("--resolution", help="a dispute: upheld, rejected or released"),
    ] = None,
) -> None:
    """Release an open hold now (the holds desk's use case: the same checks and audit)."""
    from forbear.services import holds

    forbear = open_app()
    now = forbear.now()
    with forbear.transaction() as conn:
        holds.release_from_cli(
            conn,
            forbear.vault,
            hold_id,
            actor=cli_actor(),
            reason=reason,
            resolution=resolution,
            now=now,
            today=forbear.today(),
        )
    console.print(f"[green]✓[/] hold {hold_id} released")
