"""Catalogue entries of borrowers' replies and the agents' reply inbox (issue 13)
(see :mod:`forbear.web.messages`)."""

from __future__ import annotations

ZH: dict[str, str] = {
    # signed provider callbacks (/api/v1/channels)
    "replies.signature.unknown_provider": "签名无效：未配置该渠道服务商的密钥",
    "replies.signature.missing": "签名无效：缺少时间戳或签名",
    "replies.signature.malformed": "签名无效：时间戳或签名格式错误",
    "replies.signature.stale": "签名无效：时间戳超出允许的时间窗口",
    "replies.signature.mismatch": "签名无效：签名与请求内容不符",
    "replies.signature.replayed": "签名无效：该请求已被接收过（重放）",
    "replies.malformed": "回调内容格式错误（须为约定格式的 JSON）",
    "replies.invalid": "回调内容有误：{field}：{reason}",
    # the agents' reply inbox
    "replies.title": "回复收件箱",
    "replies.nav": "回复收件箱",
    "replies.intro": "借款人对短信和邮件的回复（退订除外），按收到时间排列。处理后请标记为已处理。",
    "replies.empty": "暂无待处理的回复。",
    "replies.col.received": "收到时间",
    "replies.col.channel": "渠道",
    "replies.col.borrower": "借款人",
    "replies.col.text": "内容",
    "replies.col.action": "操作",
    "replies.unmatched": "未匹配（号码或邮箱不在档案中）",
    "replies.hidden": "（您的角色无权查看回复内容）",
    "replies.open_account": "查看账户",
    "replies.mark_handled": "标记为已处理",
    "replies.handled": "已标记为已处理。",
    "replies.already_handled": "该回复已被处理。",
    "replies.class.opt_out": "退订",
    "replies.class.other": "其他",
    "replies.routed.agent": "坐席",
    "replies.routed.assistant": "智能助手",
    "replies.routed.none": "无需处理",
}

EN: dict[str, str] = {
    "replies.signature.unknown_provider": (
        "Signature refused: no secret is configured for this provider"
    ),
    "replies.signature.missing": "Signature refused: the timestamp or the signature is missing",
    "replies.signature.malformed": "Signature refused: the timestamp or the signature is malformed",
    "replies.signature.stale": "Signature refused: the timestamp is outside the allowed window",
    "replies.signature.mismatch": "Signature refused: the signature does not match the request",
    "replies.signature.replayed": "Signature refused: this request was already received (replay)",
    "replies.malformed": "Malformed callback (expected JSON in the agreed shape)",
    "replies.invalid": "Invalid callback: {field}: {reason}",
    "replies.title": "Reply inbox",
    "replies.nav": "Replies",
    "replies.intro": "Borrowers' replies to SMS and e-mail (opt-outs aside), oldest first. "
    "Mark each one handled once dealt with.",
    "replies.empty": "No reply is waiting.",
    "replies.col.received": "Received",
    "replies.col.channel": "Channel",
    "replies.col.borrower": "Borrower",
    "replies.col.text": "Text",
    "replies.col.action": "Action",
    "replies.unmatched": "Unmatched (number or address on no file)",
    "replies.hidden": "(your role may not read replies)",
    "replies.open_account": "Open account",
    "replies.mark_handled": "Mark handled",
    "replies.handled": "Marked handled.",
    "replies.already_handled": "This reply was already handled.",
    "replies.class.opt_out": "Opt-out",
    "replies.class.other": "Other",
    "replies.routed.agent": "Agents",
    "replies.routed.assistant": "Assistant",
    "replies.routed.none": "Nothing to do",
}
