"""Every provenance the store can hold is one the packs know (CN.DATA.CONTACT_SOURCE):
a contact point stored with a lawful source must not be blocked for a spelling."""

from __future__ import annotations

import pytest

from forbear.domain.compliance.config import default_rules
from forbear.store.models import Provenance


@pytest.mark.parametrize("pack", ["CN", "US"])
def test_the_store_s_provenances_are_the_pack_s_lawful_ones(pack: str) -> None:
    rules = default_rules(pack).active("contact_source")
    for rule in rules:
        assert set(rule.params["lawful"]) <= {p.value for p in Provenance}
    if pack == "CN":
        assert rules and set(rules[0].params["lawful"]) == {p.value for p in Provenance}
