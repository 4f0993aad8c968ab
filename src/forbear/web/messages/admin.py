"""Catalogue entries: staff management for the admin (issue 15, item 9)
(see :mod:`forbear.web.messages`)."""

from __future__ import annotations

ZH: dict[str, str] = {
    "admin.nav": "员工管理",
    "admin.title": "员工管理",
    "admin.intro": (
        "新增员工、停用或启用账号、重设密码、调整角色与可见范围。每项操作都记入审计记录；"
        "不能停用或降级自己的账号，也不能停用最后一位系统管理员。"
    ),
    "admin.col.username": "用户名",
    "admin.col.name": "姓名",
    "admin.col.role": "角色",
    "admin.col.scope": "可见范围",
    "admin.col.status": "状态",
    "admin.col.last_sign_in": "最近登录",
    "admin.col.actions": "操作",
    "admin.status.enabled": "正常",
    "admin.status.disabled": "已停用",
    "admin.status.locked": "已锁定（多次输错密码）",
    "admin.status.no_password": "仅接口令牌",
    "admin.scope.all": "全部账户",
    "admin.scope.agency": "委外机构 {agency}",
    "admin.scope.buckets": "逾期阶段 {buckets}",
    "admin.scope.queue": "工作队列 {ref}",
    "admin.scope.team": "团队 {team}",
    "admin.never": "从未登录",
    "admin.you": "（您本人）",
    "admin.disable": "停用",
    "admin.enable": "启用",
    "admin.reset": "重设密码",
    "admin.edit": "调整角色与范围",
    "admin.disable_confirm": "确定停用该账号？其登录会话和接口令牌将立即失效。",
    "admin.reset_confirm": "确定重设该账号的密码？其登录会话将立即失效。",
    "admin.add": "新增员工",
    "admin.field.username": "用户名",
    "admin.field.username_hint": "3–64 个字符：小写字母、数字、点、下划线或连字符，以字母开头",
    "admin.field.display_name": "姓名",
    "admin.field.role": "角色",
    "admin.field.agency": "委外机构编号",
    "admin.field.agency_hint": "仅委外机构催收员填写",
    "admin.field.buckets": "可见的逾期阶段（不选则全部可见）",
    "admin.field.agent_ref": "工作队列编号",
    "admin.field.team_id": "团队编号",
    "admin.field.password": "初始密码",
    "admin.field.password_generate": "自动生成初始密码（保存后仅显示一次）",
    "admin.field.password_own": "自行设置初始密码",
    "admin.field.password_hint": "至少 10 个字符，不能过于简单，也不能包含用户名",
    "admin.add_go": "新增",
    "admin.save": "保存",
    "admin.cancel": "返回员工列表",
    "admin.added": "已新增员工 {username}。",
    "admin.disabled": "已停用 {username}，其会话和接口令牌已失效。",
    "admin.enabled": "已启用 {username}。",
    "admin.role_changed": "已更新 {username} 的角色与范围，其会话已失效，需重新登录。",
    "admin.password_once": (
        "{username} 的初始密码（仅显示这一次，请当面或通过安全渠道交给本人，"
        "并请其登录后尽快修改）："
    ),
    "admin.edit_title": "调整 {username} 的角色与范围",
    "admin.refused": "未保存：请按提示修改。",
    "admin.error.username": (
        "用户名须为 3–64 个字符：小写字母、数字、点、下划线或连字符，以字母开头。"
    ),
    "admin.error.display_name": "姓名须为 1–100 个字符。",
    "admin.error.role": "请选择一个角色。",
    "admin.error.agency": "委外机构催收员须填写委外机构编号（正整数）；其他角色不填。",
    "admin.error.scope_buckets": "请选择列表中的逾期阶段。",
    "admin.error.agent_ref": ("工作队列编号只能包含字母、数字、点、下划线或连字符（最多 64 个）。"),
    "admin.error.team_id": "团队编号只能包含字母、数字、点、下划线或连字符（最多 64 个）。",
    "admin.error.password": (
        "密码至少 10 个字符、至少 4 种不同字符，不能是常见密码，也不能包含用户名。"
    ),
    "admin.error.other": "输入有误，请检查后重试。",
    "admin.conflict.exists": "用户名 {username} 已存在。",
    "admin.conflict.self": "不能停用或降级您自己的账号。",
    "admin.conflict.last_admin": "{username} 是最后一位可用的系统管理员，不能停用或降级。",
    "admin.conflict.already_disabled": "{username} 已经是停用状态。",
    "admin.conflict.not_disabled": "{username} 没有被停用或锁定。",
    "admin.conflict.disabled": "{username} 已停用。",
    "admin.not_found": "没有用户名为 {username} 的员工。",
}

EN: dict[str, str] = {
    "admin.nav": "Staff",
    "admin.title": "Staff",
    "admin.intro": (
        "Add staff, disable or enable accounts, reset passwords, change roles and scopes. "
        "Every change is audited; nobody disables or demotes their own account, and the "
        "last admin cannot be disabled."
    ),
    "admin.col.username": "Username",
    "admin.col.name": "Name",
    "admin.col.role": "Role",
    "admin.col.scope": "Scope",
    "admin.col.status": "Status",
    "admin.col.last_sign_in": "Last sign-in",
    "admin.col.actions": "Actions",
    "admin.status.enabled": "enabled",
    "admin.status.disabled": "disabled",
    "admin.status.locked": "locked (wrong passwords)",
    "admin.status.no_password": "API tokens only",
    "admin.scope.all": "every account",
    "admin.scope.agency": "agency {agency}",
    "admin.scope.buckets": "buckets {buckets}",
    "admin.scope.queue": "queue {ref}",
    "admin.scope.team": "team {team}",
    "admin.never": "never",
    "admin.you": "(you)",
    "admin.disable": "Disable",
    "admin.enable": "Enable",
    "admin.reset": "Reset password",
    "admin.edit": "Role and scope",
    "admin.disable_confirm": "Disable this account? Its sessions and API tokens stop at once.",
    "admin.reset_confirm": "Reset this account's password? Its sessions stop at once.",
    "admin.add": "Add a staff member",
    "admin.field.username": "Username",
    "admin.field.username_hint": (
        "3-64 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter"
    ),
    "admin.field.display_name": "Name",
    "admin.field.role": "Role",
    "admin.field.agency": "Agency number",
    "admin.field.agency_hint": "Agency agents only",
    "admin.field.buckets": "Buckets they see (none chosen: all)",
    "admin.field.agent_ref": "Work queue id",
    "admin.field.team_id": "Team id",
    "admin.field.password": "Initial password",
    "admin.field.password_generate": "Generate an initial password (shown once after saving)",
    "admin.field.password_own": "Set the initial password myself",
    "admin.field.password_hint": "At least 10 characters, not too easy, without the username",
    "admin.add_go": "Add",
    "admin.save": "Save",
    "admin.cancel": "Back to the staff list",
    "admin.added": "Added {username}.",
    "admin.disabled": "Disabled {username}; their sessions and API tokens are revoked.",
    "admin.enabled": "Enabled {username}.",
    "admin.role_changed": "Updated {username}'s role and scope; they must sign in again.",
    "admin.password_once": (
        "{username}'s initial password (shown only this once: hand it over in person or "
        "by a secure channel, and ask them to change it soon):"
    ),
    "admin.edit_title": "Role and scope of {username}",
    "admin.refused": "Not saved: please correct the fields shown.",
    "admin.error.username": (
        "A username has 3-64 characters: lower-case letters, digits, "
        "'.', '_' or '-', starting with a letter."
    ),
    "admin.error.display_name": "A name has 1-100 characters.",
    "admin.error.role": "Choose a role.",
    "admin.error.agency": (
        "An agency agent needs an agency number (a positive whole number); other roles have none."
    ),
    "admin.error.scope_buckets": "Choose buckets from the list.",
    "admin.error.agent_ref": "A queue id has letters, digits, '.', '_' or '-' (at most 64).",
    "admin.error.team_id": "A team id has letters, digits, '.', '_' or '-' (at most 64).",
    "admin.error.password": (
        "A password has at least 10 characters and 4 different ones, "
        "is not a common one and does not contain the username."
    ),
    "admin.error.other": "Something is wrong with the input; please check it.",
    "admin.conflict.exists": "The username {username} is taken.",
    "admin.conflict.self": "You cannot disable or demote your own account.",
    "admin.conflict.last_admin": (
        "{username} is the last enabled admin and cannot be disabled or demoted."
    ),
    "admin.conflict.already_disabled": "{username} is already disabled.",
    "admin.conflict.not_disabled": "{username} is neither disabled nor locked.",
    "admin.conflict.disabled": "{username} is disabled.",
    "admin.not_found": "There is no staff member {username}.",
}
