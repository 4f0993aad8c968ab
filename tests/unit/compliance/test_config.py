# ruff: noqa: E501, SIM905  (expected messages and the REGULATIONS.md id list are kept verbatim)
"""Rule packs and lender files: the shipped packs load; a lender may only tighten."""

from __future__ import annotations

import re

import pytest

from forbear.domain.compliance.config import (
    EVALUATED_KINDS,
    compile_config,
    default_rules,
    load_pack,
    parse_lender,
    parse_pack,
)
from forbear.domain.errors import ConfigurationError

REGULATIONS_IDS = {
    "CN": """CN.HOURS.QUIET CN.FREQ.UNANSWERED CN.FREQ.CONNECTED CN.FREQ.CROSSPARTY
        CN.3P.NO_UNRELATED CN.3P.LOST_CONTACT_GATE CN.3P.NO_DISCLOSE CN.3P.REFUSAL
        CN.DATA.CONTACT_SOURCE CN.LANG.PROHIBITED CN.LANG.NO_NEW_BORROWING CN.PUBLIC.NO_POSTING
        CN.VISIT.RULES CN.RECORD.RETAIN CN.AGENCY.NOTIFY_DEBTOR CN.AGENCY.SCOPE CN.PIPL.SENSITIVE
        CN.PIPL.AUTODEC CN.CREDIT.PRENOTICE CN.LIMITATION CN.ASSIGN.NOTICE CN.RATE.LICENSED
        CN.COMPLAINT.SLA CN.AI.COUNTS""".split(),
    "US": """US.REGF.HOURS US.REGF.7IN7 US.REGF.OPTOUT US.REGF.CEASE US.REGF.VALIDATION
        US.REGF.DISPUTE US.REGF.TIMEBARRED US.REGF.RECORDS US.TCPA.AIVOICE US.MA.2IN7""".split(),
}
# rules the packs add beyond REGULATIONS.md's tables (confidence I: needs legal review)
ADDED = {
    "CN": {"CN.HOLDS", "CN.HOLIDAYS", "CN.ASSISTANT.QUIET_DEMAND"},
    "US": {"US.HOLDS", "US.HOLIDAYS", "US.ASSISTANT.QUIET_DEMAND"}
    # the content filter's rules for a US lender (issue 17)
    | {"US.REGF.HARASS", "US.REGF.FALSE", "US.REGF.UNFAIR", "US.REGF.THIRD_PARTY"}
    | {"US.LANG.NO_NEW_BORROWING"},
}


@pytest.mark.parametrize("name", ["CN", "US"])
def test_shipped_packs_carry_every_regulation_id_with_source_and_confidence(name):
    pack = load_pack(name)
    ids = [r.id for r in pack.rules]
    assert set(ids) == set(REGULATIONS_IDS[name]) | ADDED[name]
    for r in pack.rules:
        assert r.source and r.zh and r.en
        assert all(c.strip() in {"V", "V2", "P", "I"} for c in r.confidence.split("/"))
    for added in ADDED[name]:
        assert "I" in next(r for r in pack.rules if r.id == added).confidence.split(" / ")


def test_default_lender_is_cn_with_contact_from_08_to_21():
    rules = default_rules()
    assert rules.pack == "CN" and rules.timezone_default == "Asia/Shanghai"
    [w] = rules.rule("CN.HOURS.QUIET").params["windows"]
    assert str(w) == "08:00-21:00"
    assert not rules.rule("CN.HOLIDAYS").evaluated


def lender(text: str):
    return compile_config(load_pack(text.split("pack: ")[1].split()[0]), parse_lender(text))


def test_a_lender_may_tighten():
    rules = lender(
        """
pack: CN
timezone_default: Asia/Urumqi
overrides:
  CN.HOURS.QUIET: {windows: ["09:00-12:00", "13:30-20:00"]}
  CN.FREQ.UNANSWERED: {max_attempts: 3}
  CN.FREQ.CONNECTED: {max_connected: 2, channels: [call, ai_call, visit]}
  CN.LIMITATION: {years: 2}
  CN.DATA.CONTACT_SOURCE: {lawful: [contract, supplied_by_debtor]}
  CN.HOLDS: {blocks: {dispute: all, complaint: all, cease: all, opt_out: all,
    do_not_contact: all, vulnerable: all, hardship: all, lawyer: all, deceased: debtor}}
holidays: {country: CN}
complaint_hold: false
"""
    )
    assert [str(w) for w in rules.rule("CN.HOURS.QUIET").params["windows"]] == [
        "09:00-12:00",
        "13:30-20:00",
    ]
    assert rules.rule("CN.FREQ.UNANSWERED").params["max_attempts"] == 3
    assert rules.rule("CN.HOLIDAYS").evaluated and rules.holiday_country == "CN"
    assert rules.timezone_default == "Asia/Urumqi" and not rules.complaint_hold


def test_unquoted_yaml_times_are_read_as_times():
    rules = lender("pack: CN\noverrides: {CN.HOURS.QUIET: {start: 09:00, end: 20:30}}")
    assert str(rules.rule("CN.HOURS.QUIET").params["windows"][0]) == "09:00-20:30"


def test_us_overlay_can_be_enabled_but_a_pack_rule_cannot_be_switched_off():
    assert lender("pack: US\nenable: [US.MA.2IN7]").rule("US.MA.2IN7").evaluated
    assert lender("pack: US\noverrides: {US.MA.2IN7: {enabled: true}}").rule("US.MA.2IN7").evaluated
    with pytest.raises(ConfigurationError, match=r"overrides\.US\.REGF\.7IN7\.enabled: false"):
        lender("pack: US\noverrides: {US.REGF.7IN7: {enabled: false}}")


REFUSED = [
    (
        'pack: CN\noverrides: {CN.HOURS.QUIET: {end: "22:30"}}',
        "lender.yaml: overrides.CN.HOURS.QUIET.end: 22:30 is later than the pack's 22:00 (may only tighten)",
    ),
    (
        "pack: CN\noverrides: {CN.HOURS.QUIET: {end: 22:30}}",
        "lender.yaml: overrides.CN.HOURS.QUIET.end: 22:30 is later than the pack's 22:00 (may only tighten)",
    ),
    (
        'pack: CN\noverrides: {CN.HOURS.QUIET: {start: "07:30"}}',
        "lender.yaml: overrides.CN.HOURS.QUIET.start: 07:30 is earlier than the pack's 08:00 (may only tighten)",
    ),
    (
        "pack: CN\noverrides: {CN.FREQ.UNANSWERED: {max_attempts: 8}}",
        "lender.yaml: overrides.CN.FREQ.UNANSWERED.max_attempts: 8 is more than the pack's 6 (may only tighten)",
    ),
    (
        "pack: CN\noverrides: {CN.FREQ.CONNECTED: {channels: [call]}}",
        "lender.yaml: overrides.CN.FREQ.CONNECTED.channels: drops ['ai_call'] from the pack's list (may only tighten)",
    ),
    (
        "pack: US\noverrides: {US.REGF.7IN7: {window_days: 5}}",
        "lender.yaml: overrides.US.REGF.7IN7.window_days: 5 is less than the pack's 7 (may only tighten)",
    ),
    (
        "pack: CN\noverrides: {CN.DATA.CONTACT_SOURCE: {lawful: [contract, address_book]}}",
        "lender.yaml: overrides.CN.DATA.CONTACT_SOURCE.lawful: adds ['address_book'] to the pack's list (may only tighten)",
    ),
    (
        "pack: CN\noverrides: {CN.HOLDS: {blocks: {dispute: [sms]}}}",
        "lender.yaml: overrides.CN.HOLDS.blocks.dispute: blocks less than the pack's all (may only tighten)",
    ),
    (
        "pack: CN\noverrides: {CN.HOURS.NIGHT: {end: '21:00'}}",
        "lender.yaml: overrides.CN.HOURS.NIGHT: unknown rule id in pack CN",
    ),
    (
        "pack: CN\noverrides: {CN.HOURS.QUIET: {finish: '21:00'}}",
        "lender.yaml: overrides.CN.HOURS.QUIET.finish: unknown parameter for kind quiet_hours",
    ),
    (
        "pack: CN\ntimezone_default: Asia/Peking",
        "lender.yaml: timezone_default: 'Asia/Peking' is not an IANA time zone",
    ),
    (
        'pack: CN\noverrides: {CN.HOURS.QUIET: {windows: ["09:00-13:00", "12:00-20:00"]}}',
        "lender.yaml: overrides.CN.HOURS.QUIET.windows: 09:00-13:00 and 12:00-20:00 overlap",
    ),
    (
        'pack: CN\noverrides: {CN.HOURS.QUIET: {windows: ["20:00-09:00"]}}',
        "lender.yaml: overrides.CN.HOURS.QUIET.windows[0]: start 20:00 is not before end 09:00 (an invalid window)",
    ),
    (
        'pack: CN\noverrides: {CN.HOURS.QUIET: {end: "25:00"}}',
        "lender.yaml: overrides.CN.HOURS.QUIET.end: '25:00' is not a local time HH:MM",
    ),
    (
        "pack: CN\nholidays: {country: XX}",
        "lender.yaml: holidays.country: 'XX' is not a supported country",
    ),
    ("pack: CN\nunknown_key: 1", "lender.yaml: unknown_key: Extra inputs are not permitted"),
    ("pack: ZZ", "pack 'ZZ': unknown pack (no packs/ZZ.yaml)"),
]


@pytest.mark.parametrize(("text", "message"), REFUSED)
def test_lender_files_that_loosen_or_are_invalid_are_refused_with_file_key_and_reason(
    text, message
):
    with pytest.raises(ConfigurationError, match=f"^{re.escape(message)}$"):
        lender(text)


PACK = """
pack: CN
title: t
timezone_default: Asia/Shanghai
rules:
  - {id: CN.X, kind: %s, params: {}, source: s, confidence: %s, zh: z, en: e}
"""


def test_a_pack_with_an_unknown_kind_is_refused():
    with pytest.raises(
        ConfigurationError, match=r"^p\.yaml: rules\[0\] \(CN\.X\)\.kind: unknown kind 'curfew'$"
    ):
        parse_pack(PACK % ("curfew", "P"), "p.yaml")


def test_a_pack_with_a_bad_confidence_is_refused():
    with pytest.raises(ConfigurationError, match=r"confidence: 'sure' is not V/V2/P/I"):
        parse_pack(PACK % ("workflow", "sure"), "p.yaml")


def test_every_evaluated_kind_is_used_by_a_shipped_pack():
    used = {r.kind for name in ("CN", "US") for r in load_pack(name).rules}
    assert used >= EVALUATED_KINDS


def test_a_shipped_pack_is_parsed_once_and_each_caller_gets_its_own_copy() -> None:
    first, second = load_pack("CN"), load_pack("CN")
    assert first == second and first is not second
    first.rules[0].params["start"] = "00:00"  # a caller changing its copy
    assert load_pack("CN").rules[0].params != first.rules[0].params
    with pytest.raises(ConfigurationError, match="unknown pack"):
        load_pack("XX")
