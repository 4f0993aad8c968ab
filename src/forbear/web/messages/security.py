"""Catalogue entries of the unmask throttle and its alert on the compliance console (see
:mod:`forbear.web.messages` and :mod:`forbear.web.unmasking`)."""

from __future__ import annotations

ZH: dict[str, str] = {
    "unmask.throttled": (
        "查看完整信息过于频繁：每{window}最多可查看 {limit} 位借款人的完整信息，"
        "请在 {seconds} 秒后再试。此次拒绝已记录，合规部门可见。"
    ),
    "unmask.window.minute": "分钟",
    "unmask.window.day": "天",
    "complaints.section.unmasking": "查看限额提醒",
    "unmasking.title": "查看完整信息的限额提醒",
    "unmasking.intro": (
        "以下员工在过去 {days} 天内因短时间查看过多借款人的完整信息而被拒绝"
        "（每位员工每分钟、每天可查看的借款人数有上限）。此处不显示任何借款人信息；"
        "每次拒绝均为审计记录中的 pii.unmask_throttled 事件。"
    ),
    "unmasking.none": "过去 {days} 天内没有员工触发查看限额。",
    "unmasking.alert": "过去 {days} 天内有 {count} 位员工触发了查看完整信息的限额。",
    "unmasking.open": "查看提醒",
    "unmasking.col.user": "员工",
    "unmasking.col.role": "角色",
    "unmasking.col.first": "首次被拒",
    "unmasking.col.last": "最近被拒",
    "unmasking.col.refusals": "被拒次数",
    "unmasking.col.windows": "触发的限额",
    "unmasking.col.limit": "上限（借款人数）",
}

EN: dict[str, str] = {
    "unmask.throttled": (
        "Too many borrowers shown in full: you may see at most {limit} borrowers per {window}; "
        "try again in {seconds} seconds. This refusal is recorded and shown to compliance."
    ),
    "unmask.window.minute": "minute",
    "unmask.window.day": "day",
    "complaints.section.unmasking": "Unmask alerts",
    "unmasking.title": "Unmask limit alerts",
    "unmasking.intro": (
        "Staff refused in the last {days} days for showing too many borrowers' personal data "
        "in full in a short time (each user may unmask a limited number of borrowers per "
        "minute and per day). No borrower data is shown here; each refusal is a "
        "pii.unmask_throttled event in the audit trail."
    ),
    "unmasking.none": "Nobody reached the unmask limits in the last {days} days.",
    "unmasking.alert": "{count} staff member(s) reached the unmask limits in the last {days} days.",
    "unmasking.open": "See the alerts",
    "unmasking.col.user": "Staff member",
    "unmasking.col.role": "Role",
    "unmasking.col.first": "First refused",
    "unmasking.col.last": "Last refused",
    "unmasking.col.refusals": "Refusals",
    "unmasking.col.windows": "Limits reached",
    "unmasking.col.limit": "Limit (borrowers)",
}
