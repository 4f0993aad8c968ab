"""Catalogue entries: the supervisors' queue of plans beyond an agent's authority (issue 15, item 2)
(see :mod:`forbear.web.messages`)."""

from __future__ import annotations

ZH: dict[str, str] = {
    "approvals.nav": "方案审批",
    "approvals.title": "方案审批",
    "approvals.intro": (
        "催收员提交的超出其权限的还款方案。批准或调整后，方案在您的权限内向借款人提供，"
        "借款人在自助服务的贷款页面查看还款计划表并确认接受；拒绝须写明理由。"
    ),
    "approvals.pending": "待审批（{n}）",
    "approvals.none": "没有待审批的方案。",
    "approvals.recent": "最近的决定",
    "approvals.col.loan": "贷款",
    "approvals.col.plan": "方案",
    "approvals.col.submitted": "提交",
    "approvals.col.reason": "理由",
    "approvals.col.status": "状态",
    "approvals.col.decided": "决定",
    "approvals.submitted_by": "{by} 于 {on} 提交",
    "approvals.approve": "按原方案批准",
    "approvals.adjust": "调整后批准",
    "approvals.adjust_intro": "修改条件（须在您的权限内），再批准：",
    "approvals.refuse": "拒绝",
    "approvals.note": "说明（可选）",
    "approvals.refuse_reason": "拒绝理由（必填）",
    "approvals.done.approved": "审批 #{id} 已批准：方案 #{plan} 已向借款人提供。",
    "approvals.done.adjusted": "审批 #{id} 已调整后批准：方案 #{plan} 已向借款人提供。",
    "approvals.done.refused": "审批 #{id} 已拒绝。",
    "approvals.open_account": "打开账户",
    "approvals.plan_link": "方案 #{plan}",
}

EN: dict[str, str] = {
    "approvals.nav": "Plan approvals",
    "approvals.title": "Plan approvals",
    "approvals.intro": (
        "Plans that agents submitted beyond their authority. Approved or adjusted, the plan "
        "is offered under your authority: the borrower sees its schedule on the portal's "
        "loan page and confirms it. A refusal needs a reason."
    ),
    "approvals.pending": "Awaiting a decision ({n})",
    "approvals.none": "No plans await a decision.",
    "approvals.recent": "Recent decisions",
    "approvals.col.loan": "Loan",
    "approvals.col.plan": "Plan",
    "approvals.col.submitted": "Submitted",
    "approvals.col.reason": "Reason",
    "approvals.col.status": "Status",
    "approvals.col.decided": "Decision",
    "approvals.submitted_by": "{by}, {on}",
    "approvals.approve": "Approve as submitted",
    "approvals.adjust": "Approve with changes",
    "approvals.adjust_intro": "Change the terms (within your authority), then approve:",
    "approvals.refuse": "Refuse",
    "approvals.note": "Note (optional)",
    "approvals.refuse_reason": "Reason for refusing (required)",
    "approvals.done.approved": "Submission #{id} approved: plan #{plan} offered to the borrower.",
    "approvals.done.adjusted": (
        "Submission #{id} approved with changes: plan #{plan} offered to the borrower."
    ),
    "approvals.done.refused": "Submission #{id} refused.",
    "approvals.open_account": "Open the account",
    "approvals.plan_link": "plan #{plan}",
}
