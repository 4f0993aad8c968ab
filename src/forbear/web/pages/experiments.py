"""Experiment readouts from the web (issue 16, item 1): ``/experiments`` lists the
experiments, ``/experiments/{experiment_id}`` reads one out (per arm, each arm against
the champion and the control with intervals, minimum detectable effects and the verdict)
and offers promotion of a challenger.

The same use cases as ``forbear experiment ...`` (:mod:`forbear.services.experiments`):
they check the permission (``strategy.manage`` or ``plan.approve`` to read,
``strategy.manage`` to promote) and audit the promotion; the page parses, calls, renders.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from forbear.domain.errors import ValidationError
from forbear.domain.experiments import Comparison
from forbear.services import experiments as svc
from forbear.web.deps import require_any, state_of
from forbear.web.i18n import Translator, request_lang
from forbear.web.pages.render import page, yuan
from forbear.web.pages.strategies import Words
from forbear.web.sessions import Principal

router = APIRouter(prefix="/experiments")
Reader = Annotated[Principal, Depends(require_any(*svc.READ))]
Manager = Annotated[Principal, Depends(require_any(svc.PROMOTE))]
ExperimentId = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]*$", max_length=100)]
DateText = Annotated[str | None, Query(max_length=10)]
SEP = {"zh-CN": "、", "en": ", "}


def _day(value: str | None, field: str) -> date | None:
    """A date from a form's date input (empty: not given)."""
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(field, "not a date (YYYY-MM-DD)") from None


class Say:
    """Names and numbers of a readout in the reader's language."""

    def __init__(self, t: Translator) -> None:
        self.t = t
        self.words = Words(t)

    def arm(self, name: str) -> str:
        key = f"experiments.arm.{name}"
        return self.t(key) if self.t.has(key) else name

    def known_arm(self, name: str) -> bool:
        return self.t.has(f"experiments.arm.{name}")

    def metric(self, key: str) -> str:
        return self.t(f"experiments.metric.{key}")

    def value(self, metric: str, v: float | None, signed: bool = False) -> str:
        if v is None or not math.isfinite(v):
            return "∞" if v is not None and v > 0 else ("-∞" if v is not None else "-")
        sign = ("+" if v >= 0 else "-") if signed else ("-" if v < 0 else "")
        if metric == "recovered":
            return sign + yuan(abs(round(v)))
        if metric.endswith("_rate"):
            return self.t("experiments.pp", value=f"{sign}{abs(v) * 100:.1f}")
        return f"{sign}{abs(v):.2f}"

    def verdict(self, c: Comparison, min_accounts: int) -> str:
        t, v = self.t, c.verdict
        arm, ref = self.arm(c.arm), self.arm(c.reference)
        if v.kind == "insufficient":
            return t(f"experiments.verdict.insufficient_{v.why or 'small'}", n=min_accounts)
        if v.kind == "no_difference":
            return t("experiments.verdict.no_difference", arm=arm, reference=ref)
        sep = SEP[t.lang]
        better = sep.join(t(f"experiments.word.{k}") for k in v.better_on)
        worse = sep.join(t(f"experiments.word.{k}") for k in v.worse_on)
        if not better:
            return t("experiments.verdict.worse_only", arm=arm, reference=ref, what=worse)
        text = t("experiments.verdict.better_on", arm=arm, reference=ref, what=better)
        if worse:
            joiner = "，" if t.lang == "zh-CN" else ", "
            text += joiner + t("experiments.verdict.worse_on", what=worse, reference=ref)
        return text + ("。" if t.lang == "zh-CN" else ".")


def _label(t: Translator, x: svc.ExperimentInfo) -> str:
    if x.version is None:
        return t("experiments.default_label")
    return t("experiments.version_label", name=x.version.name, version=x.version.version)


def _render(request: Request, principal: Principal, template: str, **context: Any) -> Response:
    t = Translator(request_lang(request))
    return page(request, template, principal, say=Say(t), label=lambda x: _label(t, x), **context)


@router.get("")
def experiments(request: Request, principal: Reader) -> Response:
    """The experiments (the active strategy's first)."""
    web = state_of(request)
    with web.forbear.transaction() as conn:
        rows = svc.experiments(conn, principal.as_actor())
    return _render(request, principal, "experiments/list.html", rows=rows)


def _readout(
    request: Request,
    principal: Principal,
    experiment_id: str,
    start: date | None,
    end: date | None,
    *,
    status_code: int = 200,
    error: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    web = state_of(request)
    with web.forbear.reading() as conn:  # a readout writes nothing
        report = svc.report(conn, experiment_id, principal.as_actor(), start=start, end=end)
    x = report.experiment
    promotable = [a for a in x.arms if a.name != x.control and a.treatment != x.segment_treatment]
    return _render(
        request,
        principal,
        "experiments/readout.html",
        report=report,
        x=x,
        r=report.readout,
        promotable=promotable,
        start=start,
        end=end,
        error=error,
        typed=typed or {},
        status_code=status_code,
    )


@router.get("/{experiment_id}")
def readout(
    request: Request,
    principal: Reader,
    experiment_id: ExperimentId,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> Response:
    """One experiment read out over a window (default: every completed run)."""
    first, last = _day(start, "from"), _day(end, "to")
    return _readout(request, principal, experiment_id, first, last)


@router.post("/{experiment_id}/promote")
def promote(
    request: Request,
    principal: Manager,
    experiment_id: ExperimentId,
    arm: Annotated[str, Form(max_length=100)] = "",
    reason: Annotated[str, Form(max_length=svc.MAX_REASON * 2)] = "",
    start: Annotated[str, Form(alias="from", max_length=10)] = "",
    end: Annotated[str, Form(alias="to", max_length=10)] = "",
) -> Response:
    """Promote an arm (a new candidate version); on refusal the page comes back with the
    reason beside the form and the typed reason kept, nothing stored."""
    t = Translator(request_lang(request))
    first, last = _day(start, "from"), _day(end, "to")
    web = state_of(request)
    try:
        with web.forbear.transaction() as conn:
            p = svc.promote(
                conn, experiment_id, arm, principal.as_actor(), now=web.now(),
                reason=reason, start=first, end=last,
            )  # fmt: skip
    except svc.ReasonRequired:
        return _readout(request, principal, experiment_id, first, last, status_code=422,
                        error={"lead": t("experiments.reason_required")},
                        typed={"arm": arm, "reason": reason})  # fmt: skip
    except ValidationError as exc:
        return _readout(request, principal, experiment_id, first, last, status_code=422,
                        error={"lead": t("experiments.refused"), "detail": exc.reason},
                        typed={"arm": arm, "reason": reason})  # fmt: skip
    return RedirectResponse(f"/strategies?added={p.strategy.id}", status_code=303)
