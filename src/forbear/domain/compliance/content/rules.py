"""The rule id a finding carries, by the lender's pack (issue 17: a US-pack lender's English
findings carry US ids, not CN ones).

The CN pack keeps the lexicon entry's own id (CN.LANG.PROHIBITED, CN.LANG.NO_NEW_BORROWING,
CN.PUBLIC.NO_POSTING, CN.3P.NO_DISCLOSE, CN.LIMITATION); the US pack maps each category to
its rule in ``packs/US.yaml`` (Regulation F: harassment 1006.14, false representations
1006.18, unfair practices 1006.22, third parties 1006.6(d), time-barred debt 1006.26,
opt-out 1006.6(e)). A test checks that every id named here exists in its pack.
"""

from __future__ import annotations

from collections.abc import Mapping

from forbear.domain.compliance.content.vocabulary import Category

PACK_RULES: Mapping[str, Mapping[Category, str]] = {
    "CN": {
        Category.THREAT: "CN.LANG.PROHIBITED",
        Category.INSULT: "CN.LANG.PROHIBITED",
        Category.IMPERSONATION: "CN.LANG.PROHIBITED",
        Category.FAKE_LEGAL: "CN.LANG.PROHIBITED",
        Category.EXAGGERATION: "CN.LANG.PROHIBITED",
        Category.FALSE_PROMISE: "CN.LANG.PROHIBITED",
        Category.GANG: "CN.LANG.PROHIBITED",
        Category.PUBLIC_POSTING: "CN.PUBLIC.NO_POSTING",
        Category.NEW_BORROWING: "CN.LANG.NO_NEW_BORROWING",
        Category.COLLECTION_FEE: "CN.LANG.NO_NEW_BORROWING",
        Category.THIRD_PARTY_DISCLOSURE: "CN.3P.NO_DISCLOSE",
        Category.TIME_BARRED: "CN.LIMITATION",
        Category.OPT_OUT: "US.REGF.OPTOUT",
    },
    "US": {
        Category.THREAT: "US.REGF.HARASS",
        Category.INSULT: "US.REGF.HARASS",
        Category.GANG: "US.REGF.HARASS",
        Category.PUBLIC_POSTING: "US.REGF.HARASS",
        Category.IMPERSONATION: "US.REGF.FALSE",
        Category.FAKE_LEGAL: "US.REGF.FALSE",
        Category.EXAGGERATION: "US.REGF.FALSE",
        Category.FALSE_PROMISE: "US.REGF.FALSE",
        Category.COLLECTION_FEE: "US.REGF.UNFAIR",
        Category.NEW_BORROWING: "US.LANG.NO_NEW_BORROWING",
        Category.THIRD_PARTY_DISCLOSURE: "US.REGF.THIRD_PARTY",
        Category.TIME_BARRED: "US.REGF.TIMEBARRED",
        Category.OPT_OUT: "US.REGF.OPTOUT",
    },
}

PACKS = tuple(PACK_RULES)


def rule_for(pack: str, category: Category, own: str) -> str:
    """The rule id of a finding of ``category`` for a lender on ``pack``. The CN pack keeps
    the lexicon entry's ``own`` id (an English time-barred finding is US.REGF.TIMEBARRED
    there, as before); an unknown pack is refused by :class:`CheckContext`'s callers."""
    if pack == "CN":
        return own
    return PACK_RULES[pack].get(category, own)
