"""Catalogue entries: experiment readouts (issue 16, item 1)
(see :mod:`forbear.web.messages`)."""

from __future__ import annotations

ZH: dict[str, str] = {
    "experiments.nav": "实验",
}

EN: dict[str, str] = {
    "experiments.nav": "Experiments",
}
