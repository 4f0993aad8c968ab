"""Third parties and the purpose of a contact (issue 17, item 3; REGULATIONS.md CN.3P.*).

A contact has a purpose (:class:`~forbear.domain.compliance.schema.Purpose`):

- ``collect`` discusses the debt: a demand. To an emergency contact or another third party
  it stays blocked by the pack's ``no_demand`` check (CN.3P.NO_UNRELATED, CC-2011 art. 68).
- ``locate`` asks a third party only to have the debtor call back (or for a way to reach
  the debtor), with no word of the debt. It is no demand, and it discloses nothing when
  the no-disclosure script is used (CN.3P.NO_DISCLOSE); the pack's ``lost_contact`` check
  (CN.3P.LOST_CONTACT_GATE) still lets it through only once the debtor is unreachable, the
  ``refusal`` check (CN.3P.REFUSAL) never lets a person who refused be called again, and
  the frequency caps count it like any other contact of the debtor.

The gate itself needs no new rule: a purpose becomes PLANNED's ``is_demand`` and
``discloses_debt`` (:func:`planned_flags`), which the pack's third-party checks read. What
this module adds is the purpose's vocabulary and the plain words that explain every
third-party answer, allowed or not, rule id by rule id (:func:`third_party_lines`). Which
rules exist is the pack's; a pack without any ``third_party_gate`` rule (the US pack
today: REGULATIONS.md has no US third-party row) does not silently allow third parties:
the engine blocks every contact with one with ``<pack>.3P.UNDEFINED``
(:func:`undefined_rule_id`), explained as "this pack defines no third-party rule".

The daily run plans location contacts too
(:func:`forbear.domain.compliance.locate.locate_facts`): whether the debtor is unreachable,
and which emergency contact point may be called, are answered by the gate itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import polars as pl

from forbear.domain.compliance.config import CompiledRules
from forbear.domain.compliance.schema import THIRD_PARTIES, UNDEFINED_SUFFIX, Party, Purpose
from forbear.domain.errors import ValidationError

# Who a location contact may be with: a third party. The debtor, a guarantor or a party
# recorded as debt-related is talked to about the debt (``collect``).
LOCATE_PARTIES = THIRD_PARTIES


def purpose_of(value: str | Purpose | None) -> Purpose:
    """The purpose named by ``value`` (None: ``collect``, the default), or a
    :class:`ValidationError` on ``purpose`` that lists the choices."""
    if value is None or isinstance(value, Purpose):
        return value or Purpose.COLLECT
    try:
        return Purpose(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(p.value for p in Purpose)
        raise ValidationError("purpose", f"{value!r} is not a purpose (one of {choices})") from None


def planned_flags(
    purpose: Purpose, party: Party, *, discloses_debt: bool, no_disclosure_script: bool
) -> tuple[bool, bool]:
    """``(is_demand, discloses_debt)`` of a planned contact with this purpose.

    ``collect`` is a demand; what it discloses is the caller's (``discloses_debt``).
    ``locate`` is no demand, and is only for third parties (a :class:`ValidationError`
    otherwise); it discloses nothing only when the no-disclosure script is what is said
    (``no_disclosure_script``: the locate script, or a template that passed the
    third-party content check); otherwise it counts as disclosing, and CN.3P.NO_DISCLOSE
    blocks it ("unknown is unsafe", as in the gate)."""
    if purpose is Purpose.COLLECT:
        return True, discloses_debt
    if party not in LOCATE_PARTIES:
        raise ValidationError(
            "purpose",
            "locate is for an emergency contact or another third party; "
            f"a {party.value} contact point is contacted to collect",
        )
    return False, discloses_debt or not no_disclosure_script


def row_purpose(row: Mapping[str, Any]) -> Purpose:
    """The purpose of a decision row: its ``purpose`` when given, else read from
    ``is_demand`` (a non-demand is a location contact)."""
    given = row.get("purpose")
    if given:
        return Purpose(str(given))
    return Purpose.LOCATE if row.get("is_demand") is False else Purpose.COLLECT


_THIRD_PARTY_VALUES = sorted(p.value for p in THIRD_PARTIES)


def undefined_rule_id(rules: CompiledRules) -> str | None:
    """``<pack>.3P.UNDEFINED`` when the pack has no active ``third_party_gate`` rule (then
    every contact with a third party is blocked: nothing says when one would be lawful),
    else None."""
    if rules.active("third_party_gate"):
        return None
    return f"{rules.pack}.{UNDEFINED_SUFFIX}"


def undefined_check(rules: CompiledRules) -> list[tuple[str, pl.Expr]]:
    """The gate's fail-closed check: ``(rule id, blocks)`` for a pack without third-party
    rules (blocks every planned contact whose party is a third party), else nothing."""
    rid = undefined_rule_id(rules)
    if rid is None:
        return []
    return [(rid, pl.col("party").is_in(_THIRD_PARTY_VALUES).fill_null(False))]


_TEXT = {
    "zh": {
        "locate_ok": (
            "寻址联系（不谈债务）：债务人已按规则包的定义失联（{lost}），可联系第三人，"
            "但仅请其转告债务人回电或提供联系方式。"
        ),
        "no_disclose": "必须使用不披露债务的话术：不得提及金额、逾期、产品或催收（{id}）。",
        "no_demand": "不得要求第三人还款或代为还款（{id}）。",
        "refusal": "对方表示不认识、不愿转告或请勿再打时，登记为“拒绝”：该号码将不再拨打（{id}）。",
        "caps": "第三人联系同样计入债务人的每日频次上限。",
        "locate_wait": (
            "债务人尚未失联（{id}：号码无效、连续{n}次拨打失败且从次日起、或已故）："
            "请先继续联系债务人本人。"
        ),
        "locate_disclose": "所用模板或话术披露了债务（{id}）：请改用寻址话术（不披露债务）。",
        "collect_3p": (
            "向第三人催收始终不被允许（{id}）。如债务人已失联，可选择“寻址（不谈债务）”，"
            "请其转告债务人回电。"
        ),
        "refused": (
            "该联系人已拒绝再被联系，不得再拨打此号码（{id}）；债务人本人的联系方式不受影响。"
        ),
        "undefined": (
            "规则包 {pack} 没有定义任何第三人规则，因此不得联系任何第三人（{id}）："
            "须由合规专员先补充有依据的第三人规则。"
        ),
    },
    "en": {
        "locate_ok": (
            "Location contact (no talk of the debt): the debtor is unreachable as the pack"
            " defines it ({lost}), so a third party may be contacted, only to ask that the"
            " debtor call back or for a way to reach the debtor."
        ),
        "no_disclose": (
            "Use the no-disclosure script: no amount, overdue status, product or collection ({id})."
        ),
        "no_demand": "Never ask the third party to pay, or to pay for the debtor ({id}).",
        "refusal": (
            "If the person does not know the debtor, will not pass the message on or asks"
            " not to be called again, record a refusal: the number is not called again ({id})."
        ),
        "caps": "Calls to third parties count against the debtor's daily caps as well.",
        "locate_wait": (
            "The debtor is not unreachable yet ({id}: an invalid number, {n} consecutive"
            " failed dials from the next day, or deceased): keep trying the debtor first."
        ),
        "locate_disclose": (
            "The template or script reveals the debt ({id}): use the location script,"
            " which discloses nothing."
        ),
        "collect_3p": (
            "Asking a third party about the debt is never allowed ({id}). If the debtor is"
            " unreachable, choose a location contact to ask that the debtor call back."
        ),
        "refused": (
            "This person refused further contact: the number is not called again ({id});"
            " the debtor's own contact points are not affected."
        ),
        "undefined": (
            "Pack {pack} defines no third-party rule, so no third party may be contacted"
            " ({id}): a compliance officer must add a sourced third-party rule first."
        ),
    },
}


def _checks(rules: CompiledRules, party: str) -> dict[str, Any]:
    """The pack's active third-party rules that cover ``party``, by check."""
    out: dict[str, Any] = {}
    for r in rules.active("third_party_gate"):
        if party in r.params["parties"]:
            out.setdefault(r.params["check"], r)
    return out


def third_party_lines(
    row: Mapping[str, Any], rules: CompiledRules, lang: Literal["zh", "en"] = "zh"
) -> list[str]:
    """Plain sentences about the third-party rules for one decision row, allowed or not
    (empty for a contact with the debtor, a guarantor or a debt-related party). Under a
    pack without third-party rules, the one sentence of its fail-closed block
    (:func:`undefined_rule_id`). Each names the rule id it applies."""
    party = str(row.get("party") or "")
    if party not in {p.value for p in THIRD_PARTIES}:
        return []
    text = _TEXT[lang]
    undefined = undefined_rule_id(rules)
    if undefined is not None:
        if undefined in set(row.get("blocked_by") or []):
            return [text["undefined"].format(pack=rules.pack, id=undefined)]
        return []
    checks = _checks(rules, party)
    if not checks:
        return []
    purpose = row_purpose(row)
    blocked = set(row.get("blocked_by") or [])
    out: list[str] = []
    refusal = checks.get("refusal")
    if refusal is not None and refusal.id in blocked:
        out.append(text["refused"].format(id=refusal.id))
    if purpose is Purpose.COLLECT:
        rule = checks.get("no_demand")
        if rule is not None:
            out.append(text["collect_3p"].format(id=rule.id))
        return out
    lost = checks.get("lost_contact")
    disclose = checks.get("no_disclose")
    if lost is not None and lost.id in blocked:
        n = lost.params.get("consecutive_failures", "?")
        out.append(text["locate_wait"].format(id=lost.id, n=n))
    if disclose is not None and disclose.id in blocked:
        out.append(text["locate_disclose"].format(id=disclose.id))
    if not blocked:
        out.append(text["locate_ok"].format(lost=lost.id if lost is not None else "-"))
        if disclose is not None:
            out.append(text["no_disclose"].format(id=disclose.id))
        if "no_demand" in checks:
            out.append(text["no_demand"].format(id=checks["no_demand"].id))
        if refusal is not None:
            out.append(text["refusal"].format(id=refusal.id))
        if rules.active("cap_unanswered_per_number_per_day") or rules.active(
            "cap_connected_per_debtor_per_day"
        ):
            out.append(text["caps"])
    return out
