"""``GET /api/v1/me``: who is signed in, with what role, permissions and scope."""

from __future__ import annotations

from fastapi import APIRouter, Request

from forbear.domain.access import default_policy
from forbear.web.api.schemas import Me
from forbear.web.deps import SignedIn, lang_of, translator

router = APIRouter(tags=["session"])


@router.get("/me", response_model=Me, summary="The caller: role, permissions, scope")
def me(request: Request, principal: SignedIn) -> Me:
    policy = default_policy()
    spec = policy.roles[principal.role]
    t = translator(request)
    return Me(
        user_id=principal.user_id,
        username=principal.username,
        display_name=principal.display_name,
        role=principal.role.value,
        role_label=t.label("role", principal.role.value),
        permissions=sorted(spec.permissions),
        unmask={
            purpose: sorted(f.value for f in fields)
            for purpose, fields in policy.purposes(principal.role).items()
        },
        agency_id=principal.agency_id,
        agent_ref=principal.agent_ref,
        team_id=principal.team_id,
        scope_buckets=list(principal.scope_buckets),
        via=principal.via,
        csrf_token=principal.csrf_token,
        lang=lang_of(request),
    )
