"""Legal escalation (issue 6, part 3): the review queue, cases, demands and limitation.

- **Configuration** (:func:`set_config`, :func:`config_in_force`): the eligibility rules
  and letter settings, stored as audited versions; a lender's copy may only tighten the
  shipped defaults (:mod:`forbear.domain.legal.config`).
- **The queue** (:func:`refresh_queue`, called by the daily run, and :func:`queue`):
  eligible accounts are put in front of the legal team with the criteria that held;
  an account is never sent straight to litigation. Entries that stop being eligible
  (paid, a plan, a hold...) before a case is opened are removed with the reasons.
- **Cases** (:func:`open_case`, :func:`advance`, :func:`add_costs`, :func:`record_demand`):
  opened only from the queue, by a role holding ``legal.manage``; never on an account
  with a dispute hold or whose limitation period has run (CN.LIMITATION). Stages move
  forward only (:mod:`forbear.domain.legal.lifecycle`); a demand letter that is sent is
  logged as a demand (evidence that restarts the limitation period).
- **Limitation** (:func:`limitation_watch`): open cases and queued accounts whose
  limitation date is near or past.

Documents (the demand letter and the litigation package) are in
:mod:`forbear.services.documents.gather`. Every function works in the caller's
transaction and never commits; every change is audited. Errors: :class:`PermissionDenied`,
:class:`NotFound`, :class:`ValidationError`, :class:`Conflict`, :class:`ConfigurationError`.

The package, by noun: :mod:`.configuration`, :mod:`.queue`, :mod:`.cases`,
:mod:`.limitation`, :mod:`.desk` (the use cases the front ends call with an
:class:`~forbear.domain.access.Actor`: ``legal.manage`` and scope checked there),
:func:`legal_closure` lives in :mod:`forbear.services.legal_closure` so that
plans can ask it without importing this package.
"""

from forbear.services.legal.cases import (
    DEFAULT_ZONE,
    CaseView,
    add_costs,
    advance,
    get_case,
    list_cases,
    open_case,
    parse_costs,
    record_demand,
)
from forbear.services.legal.common import PERMISSION, require_permission
from forbear.services.legal.configuration import config_in_force, current_config_text, set_config
from forbear.services.legal.limitation import limitation_watch
from forbear.services.legal.queue import QueueItem, assess, legal_accounts, queue, refresh_queue
from forbear.services.legal_closure import legal_closure

__all__ = [
    "DEFAULT_ZONE",
    "PERMISSION",
    "CaseView",
    "QueueItem",
    "add_costs",
    "advance",
    "assess",
    "config_in_force",
    "current_config_text",
    "get_case",
    "legal_accounts",
    "legal_closure",
    "limitation_watch",
    "list_cases",
    "open_case",
    "parse_costs",
    "queue",
    "record_demand",
    "refresh_queue",
    "require_permission",
    "set_config",
]
