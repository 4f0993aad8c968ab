"""Capacity: fit the day's planned contacts to channel limits and agent teams (daily run, step 5).

Pure Polars and numpy: no I/O, no clock. The caller hands in the day's candidate actions
(after the compliance gate), a :class:`CapacityConfig` and yesterday's loan → agent
assignments; :func:`allocate` answers, for every row, whether it is scheduled today and
by whom, or carried to tomorrow (with its priority; the caller raises ``carried_days``).

Ordering
--------
Within a channel, actions are taken in the order

    priority desc, age class desc, expected_recovery per unit desc, carried_days desc,
    loan_id, action_id

where ``age class = min(carried_days, carry_aging_cap_days)``. With the default cap of 1
an item carried from yesterday comes before today's new items *of the same priority*
(it never jumps a priority level), and among items of the same age the higher value
density wins. Raising the cap makes the order closer to first-in-first-out within a
priority; 0 switches aging off (pure value density). Every action costs one unit of its
channel's (or its agent's) capacity, so value per unit of capacity is
``expected_recovery`` itself.

Why greedy
----------
Assigning actions to agents to maximise recovered value under per-agent capacities,
skills and languages is a transportation problem (an LP, integral because the matrix is
totally unimodular). With unit costs, taking the actions in value-density order inside
each eligibility pool (channel, skill, language) is exactly optimal for one pool; across
pools that share agents, greedy by density is the classic 1/2-approximation for
b-matching and in practice close to optimal because pools are large and agents are
mostly generalists. It runs in O(n log n) with a loop over priority tiers × pools (tens
to hundreds), never over actions, and it is deterministic (identical decisions on the
local and the Spark engine). To keep scarce specialists for the pools that need them,
pools of one tier are served from the most constrained (least eligible remaining
capacity) to the least.

Agent work
----------
``call``, ``visit`` and ``legal_review`` need an agent whose ``skills`` hold the
action's ``skill``, whose ``langs`` hold its ``lang`` and whose ``channels`` hold its
channel. A borrower gets at most one agent contact (``call`` or ``visit``) a day and at
most one ``legal_review`` (a file review, not a contact, so it does not compete with a
call): the first in the order above is kept, the others are carried
(``duplicate_borrower``). For each tier (priority, age
class) and pool, the top ``K`` actions are selected, ``K`` = min(pool size, the
eligible agents' remaining capacity, the channel's remaining limit); then

1. continuity: a selected action whose loan's previous agent is eligible and still has
   capacity goes to that agent (a per-agent cumulative count caps it);
2. the rest go greedily to the eligible agent with the most remaining capacity (ties by
   agent id). This is computed without a loop over actions: the greedy's picks are the
   agents' capacity "slots" ``(agent, remaining value)`` sorted by value desc, agent id.

Continuity is therefore broken only when the previous agent lacks the skill, language or
channel, or is already full (possibly filled by a higher tier or an earlier pool).
"""

from __future__ import annotations

from forbear.domain.capacity.allocation import allocate
from forbear.domain.capacity.config import (
    Agent,
    CapacityConfig,
    Team,
    default_capacity,
    load_capacity,
)
from forbear.domain.capacity.summary import summary
from forbear.domain.capacity.vocabulary import (
    AGENT_CAPACITY,
    AGENT_CHANNELS,
    AUTOMATED_CHANNELS,
    CHANNEL_LIMIT,
    CHANNELS,
    CONTACT_CHANNELS,
    DEFAULT_RESOURCE,
    DUPLICATE_BORROWER,
    NO_ELIGIBLE_AGENT,
    REQUIRED_COLUMNS,
    Channel,
)

__all__ = [
    "AGENT_CAPACITY",
    "AGENT_CHANNELS",
    "AUTOMATED_CHANNELS",
    "CHANNELS",
    "CHANNEL_LIMIT",
    "CONTACT_CHANNELS",
    "DEFAULT_RESOURCE",
    "DUPLICATE_BORROWER",
    "NO_ELIGIBLE_AGENT",
    "REQUIRED_COLUMNS",
    "Agent",
    "CapacityConfig",
    "Channel",
    "Team",
    "allocate",
    "default_capacity",
    "load_capacity",
    "summary",
]
