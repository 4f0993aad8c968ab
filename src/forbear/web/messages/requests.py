"""Catalogue entries of the request guard and the database-conflict answers (see
:mod:`forbear.web.messages`): control characters, oversized bodies, concurrent writers."""

from __future__ import annotations

ZH: dict[str, str] = {
    "request.control_chars": (
        "请求中的“{field}”含有不允许的控制字符（如空字符 NUL）：已拒绝，未保存任何内容。"
        "请删除该字符后重试。"
    ),
    "request.control_chars_any": (
        "请求含有不允许的控制字符（如空字符 NUL）：已拒绝，未保存任何内容。请删除该字符后重试。"
    ),
    "request.too_large": "请求内容过大（上限 {limit}）：已拒绝，未处理任何内容。",
    "request.concurrent": ("另一个请求刚刚同时修改了同一数据，本次操作未保存。请刷新页面后重试。"),
    "request.busy": "数据库正忙，本次操作未保存。请稍后重试。",
    "request.where.path": "网址路径",
    "request.where.query": "查询参数 {name}",
    "request.where.body": "请求内容 {name}",
}

EN: dict[str, str] = {
    "request.control_chars": (
        "The {field} of the request holds a control character that is not allowed (such as "
        "NUL): refused, nothing was saved. Remove it and try again."
    ),
    "request.control_chars_any": (
        "The request holds a control character that is not allowed (such as NUL): refused, "
        "nothing was saved. Remove it and try again."
    ),
    "request.too_large": "The request body is too large (limit {limit}): refused, not read.",
    "request.concurrent": (
        "Another request changed the same data at the same moment: nothing was saved. "
        "Reload and try again."
    ),
    "request.busy": "The database is busy: nothing was saved. Please try again shortly.",
    "request.where.path": "URL path",
    "request.where.query": "query parameter {name}",
    "request.where.body": "field {name}",
}
