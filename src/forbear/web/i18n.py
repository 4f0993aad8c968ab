"""Languages of the web app: Simplified Chinese first (``zh-CN``), English switchable.

The language of a request is, first match wins: the ``lang`` query parameter, the
``forbear_lang`` cookie (set when a page is opened with ``?lang=``), for the API only the
``Accept-Language`` header (English when it prefers English), else ``zh-CN``.

The catalogue is one Python dict per language; a unit test checks that both hold the same
keys and the same ``{placeholders}``, so neither language can fall behind. Labels of the
domain's vocabularies (channels, outcomes, roles, fields, purposes, ...) are here too, so
pages and API messages never show a raw code to a collector without its words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from starlette.requests import Request

Lang = Literal["zh-CN", "en"]
LANGS: tuple[Lang, ...] = ("zh-CN", "en")
DEFAULT_LANG: Lang = "zh-CN"
LANG_COOKIE = "forbear_lang"


def parse_lang(value: str | None) -> Lang | None:
    """``zh``, ``zh-CN``, ``zh_cn`` -> ``zh-CN``; ``en``, ``en-US`` -> ``en``; else None."""
    if not value:
        return None
    code = value.strip().lower().replace("_", "-")
    if code == "zh" or code.startswith("zh-"):
        return "zh-CN"
    if code == "en" or code.startswith("en-"):
        return "en"
    return None


def _accept_language(header: str) -> Lang | None:
    best: tuple[float, Lang] | None = None
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        lang = parse_lang(tag)
        if lang is None:
            continue
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if best is None or quality > best[0]:
            best = (quality, lang)
    return best[1] if best else None


def request_lang(request: Request) -> Lang:
    chosen = parse_lang(request.query_params.get("lang")) or parse_lang(
        request.cookies.get(LANG_COOKIE)
    )
    if chosen is not None:
        return chosen
    if request.url.path.startswith("/api/"):
        # a system calling the API says what it wants; a browser's default English
        # does not turn a Chinese workbench English
        return _accept_language(request.headers.get("accept-language", "")) or DEFAULT_LANG
    return DEFAULT_LANG


ZH: dict[str, str] = {
    "app.name": "Forbear 催收工作台",
    "app.tagline": "合规优先的消费金融催收平台",
    "nav.workbench": "工作台",
    "nav.accounts": "账户查询",
    "nav.sign_out": "退出登录",
    "nav.language": "English",
    "nav.skip": "跳到正文",
    "sign_in.title": "登录",
    "sign_in.username": "用户名",
    "sign_in.password": "密码",
    "sign_in.submit": "登录",
    "sign_in.failed": "用户名或密码不正确，或账号已停用。",
    "sign_in.rate_limited": "登录尝试次数过多，请在 {minutes} 分钟后再试。",
    "sign_in.signed_out": "您已安全退出。",
    "sign_in.expired": "登录已过期，请重新登录。",
    "sign_in.notice": "本系统仅供授权员工使用，所有操作均被记录审计。",
    "workbench.title": "今日工作队列",
    "workbench.queue_of": "{date} 的队列（每日批处理生成）",
    "workbench.no_run": "还没有完成的每日批处理：暂无工作队列。",
    "workbench.empty": "您今天的队列是空的。",
    "workbench.not_today": "注意：这是 {date} 的队列，今天（{today}）的批处理尚未运行。",
    "workbench.agent": "坐席 {agent}",
    "workbench.team": "团队 {team}",
    "workbench.no_agent": "您的账号没有关联坐席编号，只显示您可见范围内的队列。",
    "workbench.chart_title": "队列按账龄分布",
    "col.rank": "序号",
    "col.loan": "借据号",
    "col.borrower": "借款人",
    "col.bucket": "账龄",
    "col.dpd": "逾期天数",
    "col.overdue": "逾期金额",
    "col.channel": "渠道",
    "col.template": "话术模板",
    "col.carried": "顺延",
    "col.agent": "坐席",
    "col.status": "状态",
    "col.outstanding": "剩余本金",
    "col.open": "打开",
    "col.at": "时间",
    "col.amount": "金额",
    "col.event": "事件",
    "col.detail": "详情",
    "col.kind": "类型",
    "col.value": "号码/地址",
    "col.owner": "归属",
    "col.provenance": "来源",
    "col.model": "模型",
    "col.score": "分数",
    "col.tier": "等级",
    "col.reasons": "主要原因",
    "yes": "是",
    "no": "否",
    "none": "无",
    "accounts.title": "账户查询",
    "accounts.search": "借据号",
    "accounts.filter": "筛选",
    "accounts.bucket_any": "全部账龄",
    "accounts.results": "共 {total} 个账户，第 {page} 页",
    "accounts.prev": "上一页",
    "accounts.next": "下一页",
    "accounts.none": "没有符合条件的账户。",
    "account.title": "账户 {ref}",
    "account.borrower": "借款人（已脱敏）",
    "account.name": "姓名",
    "account.national_id": "身份证号",
    "account.mobile": "手机号",
    "account.email": "电子邮箱",
    "account.address": "地址",
    "account.region": "地区",
    "account.timezone": "时区",
    "account.state": "账户状态（{date}）",
    "account.no_state": "尚未计算账户状态。",
    "account.principal": "借款本金",
    "account.term": "期数",
    "account.rate": "年利率",
    "account.start": "放款日",
    "account.product": "产品",
    "account.overdue_total": "逾期总额",
    "account.next_due": "下次还款",
    "account.last_payment": "最近还款日",
    "account.paid_total": "已还总额",
    "account.scores": "风险评分与原因（{date}）",
    "account.no_scores": "该日期没有评分。",
    "account.contact_points": "联系方式",
    "account.timeline": "时间线：还款与联系记录",
    "account.timeline_empty": "暂无还款或联系记录。",
    "account.chart_title": "累计应还与累计已还",
    "account.chart_due": "累计应还",
    "account.chart_paid": "累计已还",
    "account.decisions": "今日策略决策",
    "account.no_decisions": "该日期没有策略决策。",
    "event.payment": "还款",
    "event.contact": "联系",
    "event.blocked": "被合规拦截",
    "contact.title": "联系借款人",
    "contact.intro": "系统会先询问合规闸门；被拦截时显示规则与最早可联系时间。",
    "contact.channel": "渠道",
    "contact.point": "联系方式",
    "contact.point_default": "债务人的首选联系方式",
    "contact.submit": "询问合规闸门并联系",
    "contact.allowed": "允许联系：已记录联系尝试 #{attempt}。",
    "contact.blocked": "不得联系：已记录被拦截的请求 #{attempt}。",
    "contact.rules": "拦截规则",
    "contact.earliest": "最早可联系时间：{at}（借款人当地时间 {zone}）",
    "contact.never": "时间推移不会解除此拦截，须先处理上述原因。",
    "contact.denied": "您的角色不能联系借款人。",
    "outcome.title": "记录联系结果",
    "outcome.for_attempt": "联系尝试 #{attempt}（{channel}）",
    "outcome.submit": "保存结果",
    "outcome.saved": "已记录结果：{outcome}。",
    "outcome.right_party": "本人接听",
    "outcome.no_answer": "无人接听",
    "outcome.busy": "占线",
    "outcome.wrong_number": "号码错误/空号",
    "outcome.promise": "承诺还款",
    "outcome.refusal": "拒绝沟通",
    "outcome.dispute": "对债务有异议",
    "outcome.hardship": "经济困难",
    "outcome.hold_added": "已为该账户设置“{kind}”暂停（#{hold}）。",
    "outcome.promise_later": "承诺还款的金额与日期将在承诺模块上线后登记。",
    "unmask.title": "查看完整信息",
    "unmask.field": "字段",
    "unmask.purpose": "用途",
    "unmask.submit": "查看（将被审计）",
    "unmask.result": "{field}：{value}（用途：{purpose}，已记录审计）",
    "unmask.none": "您的角色不能查看完整个人信息。",
    "error.title": "出错了",
    "error.back": "返回工作台",
    "error.not_found": "未找到{kind}：{key}",
    "error.not_found_page": "页面不存在。",
    "error.validation": "输入无效：{field}（{reason}）",
    "error.conflict": "与已存数据冲突：{reason}",
    "error.permission": "您的角色（{role}）无权执行此操作。",
    "error.permission_purpose": "您的角色（{role}）不能以“{purpose}”为用途执行此操作。",
    "error.unauthenticated": "请先登录。",
    "error.session_invalid": "登录状态无效或已过期，请重新登录。",
    "error.csrf": "表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试。",
    "error.rate_limited": "请求过于频繁，请在 {seconds} 秒后再试。",
    "error.internal": "系统内部错误，操作未保存。请联系管理员（错误编号 {ref}）。",
    "error.unavailable": "数据库暂时不可用，请稍后再试。",
    "error.method": "不支持此请求方法。",
    "error.bad_json": "请求体不是有效的 JSON。",
    "error.body": "请求内容无效：",
    "error.config": "系统配置有误，请联系管理员。",
    "field.missing": "{field} 为必填项",
    "field.type": "{field} 类型不正确（应为{expected}）",
    "field.range": "{field} 超出允许范围（{limit}）",
    "field.choice": "{field} 必须是以下之一：{choices}",
    "field.invalid": "{field} 无效",
    "field.extra": "不允许的字段 {field}",
    "type.integer": "整数",
    "type.string": "文本",
    "type.boolean": "布尔值",
    "type.date": "日期（YYYY-MM-DD）",
    "type.number": "数字",
    "type.object": "对象",
    "type.list": "列表",
    "kind.loan": "借据",
    "kind.account": "账户",
    "kind.run": "批处理",
    "kind.contact attempt": "联系尝试",
    "kind.contact point": "联系方式",
    "kind.borrower": "借款人",
    "kind.staff user": "员工账号",
    "kind.api token": "API 令牌",
    "kind.hold": "暂停",
    "kind.page": "页面",
    "kind.personal field": "个人信息字段",
    "role.agent": "催收员",
    "role.supervisor": "主管",
    "role.compliance_officer": "合规专员",
    "role.legal": "法务",
    "role.agency_agent": "委外机构催收员",
    "role.admin": "系统管理员",
    "pii.name": "姓名",
    "pii.national_id": "身份证号",
    "pii.mobile": "手机号",
    "pii.email": "电子邮箱",
    "pii.address": "地址",
    "purpose.contact": "联系借款人",
    "purpose.litigation": "诉讼",
    "purpose.complaint": "处理投诉",
    "purpose.privacy_request": "个人信息查阅请求",
    "channel.call": "人工电话",
    "channel.ai_call": "智能语音",
    "channel.sms": "短信",
    "channel.im": "在线消息",
    "channel.email": "电子邮件",
    "channel.app_push": "App 推送",
    "channel.letter": "信函",
    "channel.visit": "上门",
    "channel.legal_review": "法务审查",
    "party.debtor": "债务人",
    "party.guarantor": "担保人",
    "party.debt_related": "债务相关人",
    "party.emergency_contact": "紧急联系人",
    "party.other_third_party": "其他第三方",
    "contact_kind.phone": "电话",
    "contact_kind.email": "邮箱",
    "contact_kind.address": "地址",
    "status.active": "正常/逾期中",
    "status.paid_off": "已结清",
    "status.written_off": "已核销",
    "hold.dispute": "异议",
    "hold.vulnerable": "困难/弱势客户",
    "result.connected": "接通",
    "result.no_answer": "无人接听",
    "result.busy": "占线",
    "result.invalid_number": "空号",
    "result.refused": "拒绝",
    "result.delivered": "已送达",
    "result.failed": "发送失败",
    "result.blocked": "被拦截",
    "result.pending": "待记录结果",
    "model.behaviour": "行为评分",
    "model.early_warning": "早期预警",
    "model.propensity": "还款意愿",
    "model.application": "申请评分",
}

EN: dict[str, str] = {
    "app.name": "Forbear collections workbench",
    "app.tagline": "Compliance-first collections for consumer-finance lenders",
    "nav.workbench": "Workbench",
    "nav.accounts": "Accounts",
    "nav.sign_out": "Sign out",
    "nav.language": "中文",
    "nav.skip": "Skip to content",
    "sign_in.title": "Sign in",
    "sign_in.username": "Username",
    "sign_in.password": "Password",
    "sign_in.submit": "Sign in",
    "sign_in.failed": "Wrong username or password, or the account is disabled.",
    "sign_in.rate_limited": "Too many sign-in attempts: try again in {minutes} minute(s).",
    "sign_in.signed_out": "You are signed out.",
    "sign_in.expired": "Your session has expired: please sign in again.",
    "sign_in.notice": "For authorised staff only; every action is recorded in the audit trail.",
    "workbench.title": "Today's work queue",
    "workbench.queue_of": "Queue of {date} (from the daily run)",
    "workbench.no_run": "No daily run has completed yet: there is no work queue.",
    "workbench.empty": "Your queue is empty today.",
    "workbench.not_today": (
        "Note: this is the queue of {date}; today's ({today}) run has not run yet."
    ),
    "workbench.agent": "Agent {agent}",
    "workbench.team": "Team {team}",
    "workbench.no_agent": "Your account has no agent id: showing the queue within your scope.",
    "workbench.chart_title": "Queue by bucket",
    "col.rank": "#",
    "col.loan": "Loan",
    "col.borrower": "Borrower",
    "col.bucket": "Bucket",
    "col.dpd": "Days past due",
    "col.overdue": "Overdue",
    "col.channel": "Channel",
    "col.template": "Template",
    "col.carried": "Carried",
    "col.agent": "Agent",
    "col.status": "Status",
    "col.outstanding": "Outstanding principal",
    "col.open": "Open",
    "col.at": "When",
    "col.amount": "Amount",
    "col.event": "Event",
    "col.detail": "Detail",
    "col.kind": "Kind",
    "col.value": "Number / address",
    "col.owner": "Owner",
    "col.provenance": "Source",
    "col.model": "Model",
    "col.score": "Score",
    "col.tier": "Tier",
    "col.reasons": "Main reasons",
    "yes": "yes",
    "no": "no",
    "none": "none",
    "accounts.title": "Accounts",
    "accounts.search": "Loan reference",
    "accounts.filter": "Filter",
    "accounts.bucket_any": "any bucket",
    "accounts.results": "{total} account(s), page {page}",
    "accounts.prev": "Previous",
    "accounts.next": "Next",
    "accounts.none": "No account matches.",
    "account.title": "Account {ref}",
    "account.borrower": "Borrower (masked)",
    "account.name": "Name",
    "account.national_id": "National ID",
    "account.mobile": "Mobile",
    "account.email": "E-mail",
    "account.address": "Address",
    "account.region": "Region",
    "account.timezone": "Time zone",
    "account.state": "Account state ({date})",
    "account.no_state": "No account state has been computed yet.",
    "account.principal": "Principal",
    "account.term": "Term (months)",
    "account.rate": "Annual rate",
    "account.start": "Start date",
    "account.product": "Product",
    "account.overdue_total": "Overdue total",
    "account.next_due": "Next due",
    "account.last_payment": "Last payment",
    "account.paid_total": "Paid in total",
    "account.scores": "Risk scores and reasons ({date})",
    "account.no_scores": "No scores for this date.",
    "account.contact_points": "Contact points",
    "account.timeline": "Timeline: payments and contacts",
    "account.timeline_empty": "No payments or contacts yet.",
    "account.chart_title": "Cumulative due and paid",
    "account.chart_due": "Due (cumulative)",
    "account.chart_paid": "Paid (cumulative)",
    "account.decisions": "Today's strategy decisions",
    "account.no_decisions": "No strategy decisions for this date.",
    "event.payment": "Payment",
    "event.contact": "Contact",
    "event.blocked": "Blocked by compliance",
    "contact.title": "Contact the borrower",
    "contact.intro": (
        "The compliance gate is asked first; a block shows its rules and the earliest allowed time."
    ),
    "contact.channel": "Channel",
    "contact.point": "Contact point",
    "contact.point_default": "the debtor's primary contact point",
    "contact.submit": "Ask the gate and contact",
    "contact.allowed": "Allowed: contact attempt #{attempt} recorded.",
    "contact.blocked": "Blocked: the refused request #{attempt} is recorded.",
    "contact.rules": "Blocking rules",
    "contact.earliest": "Earliest allowed: {at} (borrower's local time, {zone})",
    "contact.never": "Waiting will not lift this block: the reasons above must be resolved first.",
    "contact.denied": "Your role may not contact borrowers.",
    "outcome.title": "Record the outcome",
    "outcome.for_attempt": "Contact attempt #{attempt} ({channel})",
    "outcome.submit": "Save the outcome",
    "outcome.saved": "Outcome recorded: {outcome}.",
    "outcome.right_party": "Right party reached",
    "outcome.no_answer": "No answer",
    "outcome.busy": "Busy",
    "outcome.wrong_number": "Wrong or dead number",
    "outcome.promise": "Promise to pay",
    "outcome.refusal": "Refused to talk",
    "outcome.dispute": "Disputes the debt",
    "outcome.hardship": "Financial hardship",
    "outcome.hold_added": "A '{kind}' hold (#{hold}) is now on this account.",
    "outcome.promise_later": (
        "The promise's amount and date are captured once the promises module is live."
    ),
    "unmask.title": "Show in full",
    "unmask.field": "Field",
    "unmask.purpose": "Purpose",
    "unmask.submit": "Show (audited)",
    "unmask.result": "{field}: {value} (purpose: {purpose}; recorded in the audit trail)",
    "unmask.none": "Your role may not see personal data in full.",
    "error.title": "Something went wrong",
    "error.back": "Back to the workbench",
    "error.not_found": "{kind} not found: {key}",
    "error.not_found_page": "There is no such page.",
    "error.validation": "Invalid input: {field} ({reason})",
    "error.conflict": "Conflicts with stored data: {reason}",
    "error.permission": "Your role ({role}) may not do this.",
    "error.permission_purpose": "Your role ({role}) may not do this for the purpose '{purpose}'.",
    "error.unauthenticated": "Please sign in first.",
    "error.session_invalid": "Your session is invalid or has expired: please sign in again.",
    "error.csrf": (
        "The form has expired or its origin is unknown (CSRF check "
        "failed): reload the page and try again."
    ),
    "error.rate_limited": "Too many requests: try again in {seconds} second(s).",
    "error.internal": (
        "Internal error: nothing was saved. Please tell an administrator (reference {ref})."
    ),
    "error.unavailable": "The database is not available right now: please try again later.",
    "error.method": "This request method is not supported.",
    "error.bad_json": "The request body is not valid JSON.",
    "error.body": "Invalid request: ",
    "error.config": "The system is misconfigured: please tell an administrator.",
    "field.missing": "{field} is required",
    "field.type": "{field} has the wrong type (expected {expected})",
    "field.range": "{field} is out of range ({limit})",
    "field.choice": "{field} must be one of: {choices}",
    "field.invalid": "{field} is not valid",
    "field.extra": "field {field} is not allowed",
    "type.integer": "an integer",
    "type.string": "text",
    "type.boolean": "true or false",
    "type.date": "a date (YYYY-MM-DD)",
    "type.number": "a number",
    "type.object": "an object",
    "type.list": "a list",
    "kind.loan": "Loan",
    "kind.account": "Account",
    "kind.run": "Run",
    "kind.contact attempt": "Contact attempt",
    "kind.contact point": "Contact point",
    "kind.borrower": "Borrower",
    "kind.staff user": "Staff account",
    "kind.api token": "API token",
    "kind.hold": "Hold",
    "kind.page": "Page",
    "kind.personal field": "Personal field",
    "role.agent": "Agent",
    "role.supervisor": "Supervisor",
    "role.compliance_officer": "Compliance officer",
    "role.legal": "Legal",
    "role.agency_agent": "Agency agent",
    "role.admin": "Administrator",
    "pii.name": "Name",
    "pii.national_id": "National ID",
    "pii.mobile": "Mobile",
    "pii.email": "E-mail",
    "pii.address": "Address",
    "purpose.contact": "contacting the borrower",
    "purpose.litigation": "litigation",
    "purpose.complaint": "handling a complaint",
    "purpose.privacy_request": "a privacy (PIPL) request",
    "channel.call": "Agent call",
    "channel.ai_call": "AI voice call",
    "channel.sms": "SMS",
    "channel.im": "In-app message",
    "channel.email": "E-mail",
    "channel.app_push": "App push",
    "channel.letter": "Letter",
    "channel.visit": "Field visit",
    "channel.legal_review": "Legal review",
    "party.debtor": "Debtor",
    "party.guarantor": "Guarantor",
    "party.debt_related": "Debt-related party",
    "party.emergency_contact": "Emergency contact",
    "party.other_third_party": "Other third party",
    "contact_kind.phone": "Phone",
    "contact_kind.email": "E-mail",
    "contact_kind.address": "Address",
    "status.active": "Active",
    "status.paid_off": "Paid off",
    "status.written_off": "Written off",
    "hold.dispute": "dispute",
    "hold.vulnerable": "hardship / vulnerable",
    "result.connected": "Connected",
    "result.no_answer": "No answer",
    "result.busy": "Busy",
    "result.invalid_number": "Invalid number",
    "result.refused": "Refused",
    "result.delivered": "Delivered",
    "result.failed": "Failed",
    "result.blocked": "Blocked",
    "result.pending": "Outcome pending",
    "model.behaviour": "Behaviour",
    "model.early_warning": "Early warning",
    "model.propensity": "Propensity to pay",
    "model.application": "Application",
}


def _merge_areas() -> None:
    """The areas' entries (:mod:`forbear.web.messages`) join the catalogue."""
    from forbear.web.messages import AREAS

    for area in AREAS:
        for base, extra in ((ZH, area.ZH), (EN, area.EN)):
            twice = sorted(set(base) & set(extra))
            if twice:
                raise RuntimeError(f"{area.__name__}: catalogue keys defined twice: {twice}")
            base.update(extra)


_merge_areas()
CATALOGUE: Mapping[Lang, Mapping[str, str]] = {"zh-CN": ZH, "en": EN}


class Translator:
    """``t("key", **values)`` in one language; an unknown key shows as itself (and a
    test keeps every key used by the templates in the catalogue)."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang
        self._texts = CATALOGUE[lang]

    def __call__(self, key: str, /, **values: object) -> str:
        text = self._texts.get(key, key)
        return text.format(**values) if values else text

    def label(self, group: str, code: str | None) -> str:
        """The words for a vocabulary code (``label("channel", "sms")``); the code itself
        when the catalogue has none (a lender's own template code, say)."""
        if code is None:
            return "-"
        return self._texts.get(f"{group}.{code}", code)

    def has(self, key: str) -> bool:
        return key in self._texts

    @property
    def other(self) -> Lang:
        return "en" if self.lang == "zh-CN" else "zh-CN"
