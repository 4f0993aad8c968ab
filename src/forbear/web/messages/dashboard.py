"""Catalogue entries of the dashboard pages and API (see :mod:`forbear.web.messages`)."""

from __future__ import annotations

ZH: dict[str, str] = {
    "dashboard.nav": "主管看板",
    "dashboard.title": "主管看板",
    "dashboard.intro": (
        "{start} 至 {end} 的回收、迁徙、治愈、承诺兑现与联系情况（按策略分组与团队）。"
    ),
    "dashboard.from": "开始日期",
    "dashboard.to": "结束日期",
    "dashboard.show": "查看",
    "dashboard.no_data": (
        "所选期间没有数据：没有账户、联系记录、承诺、投诉、满意度回答或批处理。请选择其他日期。"
    ),
    "dashboard.rate_none": "无数据",
    "dashboard.n": "样本 {n}",
    "dashboard.ci": "95% 区间 {low}–{high}",
    "dashboard.small_sample": "样本少于 {min}，仅供参考",
    "dashboard.stats_note": (
        "每个比率旁显示样本量和 95% 置信区间：比例（治愈、迁徙、接通、本人接通、承诺兑现）"
        "用威尔逊区间；回收率是金额之比，用比率估计量的正态区间。"
        "样本少于 {min} 的比率标为小样本。回收率 = 期初逾期账户在期间内偿还的期初逾期金额"
        "（每户最多计到其期初逾期额）÷ 期初逾期金额，不超过 100%；"
        "“期间回款”还包括期间新到期的分期和提前还款。"
    ),
    "dashboard.col.recovered": "收回期初逾期",
    "dashboard.agents.title": "按催收员",
    "dashboard.agents.intro": (
        "{start} 至 {end}：拨打次数、有拨打的小时数、每小时拨打、本人接通、"
        "期间内承诺及其回款（按承诺兑现规则计入该承诺的还款）。"
    ),
    "dashboard.agents.agent": "催收员",
    "dashboard.agents.hours": "工作小时",
    "dashboard.agents.per_hour": "每小时拨打",
    "dashboard.agents.rpc": "本人接通",
    "dashboard.agents.promises": "承诺",
    "dashboard.agents.kept": "已兑现",
    "dashboard.agents.collected": "承诺回款",
    "dashboard.agents.none": "所选期间没有催收员的联系记录。",
    "dashboard.definitions": (
        "各指标的定义见《主管看板指标说明》；分母为零时显示“无数据”，而不是 0%。"
    ),
    "dashboard.tiles": "全部账户",
    "dashboard.recovery_rate": "回收率",
    "dashboard.cure_rate": "治愈率",
    "dashboard.roll_forward_rate": "恶化迁徙率",
    "dashboard.kept_rate": "承诺兑现率",
    "dashboard.contact_rate": "接通率",
    "dashboard.rpc_rate": "本人接通率",
    "dashboard.complaints_per_10k": "每万次联系投诉数",
    "dashboard.satisfaction": "满意度（平均分）",
    "dashboard.responses": "{n} 份回答，4–5 分占 {share}",
    "dashboard.collected_title": "每日回款（期初逾期账户，元）",
    "dashboard.survey.title": "满意度调查（按对象）",
    "dashboard.survey.subject": "调查对象",
    "dashboard.survey.responses": "回答数",
    "dashboard.survey.mean": "平均分（1–5）",
    "dashboard.survey.share": "4–5 分占比",
    "dashboard.survey.plan": "还款计划",
    "dashboard.survey.promise": "还款承诺",
    "dashboard.survey.complaint": "投诉处理",
    "dashboard.survey.all": "合计",
    "dashboard.survey.empty": "期间没有满意度回答。",
    "dashboard.by_arm": "按策略分组（冠军/挑战者）",
    "dashboard.by_team": "按团队",
    "dashboard.chart_rates": "{by}：各项比率",
    "dashboard.col.group": "分组",
    "dashboard.col.accounts": "期初账户",
    "dashboard.col.overdue_accounts": "期初逾期账户",
    "dashboard.col.overdue_start": "期初逾期金额",
    "dashboard.col.collected": "期间回款",
    "dashboard.col.attempts": "联系次数",
    "dashboard.col.promises": "已到期承诺",
    "dashboard.col.complaints": "投诉",
    "dashboard.group.all": "全部",
    "dashboard.arm.champion": "冠军方案",
    "dashboard.arm.challenger": "挑战方案",
    "dashboard.arm.control": "对照组",
    "dashboard.group.none": "未分配",
    "dashboard.roll.title": "账龄迁徙矩阵（期初 → 期末，账户占比）",
    "dashboard.roll.from": "期初账龄",
    "dashboard.roll.empty": "期初没有活跃账户。",
    "dashboard.roll.paid_off": "已结清",
    "dashboard.roll.written_off": "已核销",
    "dashboard.outreach.title": "外呼与消息（按渠道）",
    "dashboard.outreach.channel": "渠道",
    "dashboard.outreach.pending": "待发送",
    "dashboard.outreach.sent": "已发送",
    "dashboard.outreach.delivered": "已送达",
    "dashboard.outreach.failed": "失败",
    "dashboard.outreach.cancelled": "已取消",
    "dashboard.outreach.hint": (
        "按消息的计划日期统计（期间内、开始日期之后的每一天）；“已发送”含已送达，"
        "“失败”含重试用尽；“已取消”为发送前被合规规则、缺少变量或人工停止的消息。"
    ),
    "dashboard.outreach.empty": "期间没有待发或已发的消息。",
    "dashboard.blocked.title": "被合规拦截的联系（按规则）",
    "dashboard.blocked.rule": "规则",
    "dashboard.blocked.planned": "批处理计划中拦截",
    "dashboard.blocked.online": "在线请求拦截",
    "dashboard.blocked.empty": "期间没有被拦截的联系。",
    "dashboard.run.title": "最近一次每日批处理（{date}，#{run}）",
    "dashboard.run.none": "期间没有完成的每日批处理。",
    "dashboard.run.accounts": "账户",
    "dashboard.run.actions": "计划动作",
    "dashboard.run.planned": "计划联系",
    "dashboard.run.allowed": "允许",
    "dashboard.run.blocked": "拦截",
    "dashboard.run.work_queue": "坐席工作量",
    "dashboard.run.outbox": "新增待发消息",
    "dashboard.capacity.title": "产能使用",
    "dashboard.capacity.channel": "渠道",
    "dashboard.capacity.team": "团队",
    "dashboard.capacity.total": "渠道合计",
    "dashboard.capacity.planned": "计划",
    "dashboard.capacity.scheduled": "已排班",
    "dashboard.capacity.carried": "顺延",
    "dashboard.capacity.capacity": "产能",
    "dashboard.capacity.used": "使用率",
    "dashboard.capacity.unlimited": "不限",
    "dashboard.capacity.empty": "该批处理没有产能记录。",
    "dashboard.error.order": "结束日期必须晚于开始日期",
    "dashboard.error.span": "期间最长 {days} 天",
    "dashboard.error.bounds": "日期须在 {low} 至 {high} 之间",
}

EN: dict[str, str] = {
    "dashboard.nav": "Dashboard",
    "dashboard.title": "Supervisor dashboard",
    "dashboard.intro": (
        "Recovery, roll rates, cures, promises kept and contact from {start} to {end}, "
        "by strategy arm and by team."
    ),
    "dashboard.from": "From",
    "dashboard.to": "To",
    "dashboard.show": "Show",
    "dashboard.no_data": (
        "No data in this range: no accounts, contacts, promises, complaints, survey answers "
        "or daily runs. Choose other dates."
    ),
    "dashboard.rate_none": "no data",
    "dashboard.n": "n={n}",
    "dashboard.ci": "95% interval {low}–{high}",
    "dashboard.small_sample": "fewer than {min} cases: read with care",
    "dashboard.stats_note": (
        "Beside every rate: its sample size n and a 95% confidence interval, Wilson's for "
        "the proportions (cure, roll-forward, contact, right-party contact, promise kept) "
        "and the ratio estimator's normal interval for the recovery rate, a ratio of "
        "amounts. A rate on fewer than {min} cases is flagged as a small sample. Recovery "
        "= what accounts overdue at the start paid towards that overdue amount (each up to "
        "its own) ÷ the overdue amount: never above 100%; 'collected' also counts "
        "instalments falling due in the range and early repayments."
    ),
    "dashboard.col.recovered": "Recovered of overdue",
    "dashboard.agents.title": "By agent",
    "dashboard.agents.intro": (
        "{start} to {end}: attempts made, hours with attempts, attempts per hour, "
        "right-party contacts, promises taken and what was paid on them (as the "
        "promise-keeping rule credits payments)."
    ),
    "dashboard.agents.agent": "Agent",
    "dashboard.agents.hours": "Active hours",
    "dashboard.agents.per_hour": "Attempts per hour",
    "dashboard.agents.rpc": "Right-party contacts",
    "dashboard.agents.promises": "Promises",
    "dashboard.agents.kept": "Kept",
    "dashboard.agents.collected": "Paid on promises",
    "dashboard.agents.none": "No agent made contact attempts in the range.",
    "dashboard.definitions": (
        "Each figure is defined in the dashboard's guide (docs/dashboard.md); a rate whose "
        "denominator is zero shows 'no data', not 0%."
    ),
    "dashboard.tiles": "Whole book",
    "dashboard.recovery_rate": "Recovery rate",
    "dashboard.cure_rate": "Cure rate",
    "dashboard.roll_forward_rate": "Roll-forward rate",
    "dashboard.kept_rate": "Promise-kept rate",
    "dashboard.contact_rate": "Contact rate",
    "dashboard.rpc_rate": "Right-party-contact rate",
    "dashboard.complaints_per_10k": "Complaints per 10,000 contacts",
    "dashboard.satisfaction": "Satisfaction (mean score)",
    "dashboard.responses": "{n} answers, {share} scored 4-5",
    "dashboard.collected_title": "Collected per day (accounts overdue at start, yuan)",
    "dashboard.survey.title": "Satisfaction surveys, by subject",
    "dashboard.survey.subject": "Subject",
    "dashboard.survey.responses": "Answers",
    "dashboard.survey.mean": "Mean score (1-5)",
    "dashboard.survey.share": "Share of 4-5",
    "dashboard.survey.plan": "Repayment plans",
    "dashboard.survey.promise": "Promises to pay",
    "dashboard.survey.complaint": "Complaint handling",
    "dashboard.survey.all": "Total",
    "dashboard.survey.empty": "No survey answers in this range.",
    "dashboard.by_arm": "By strategy arm (champion / challenger)",
    "dashboard.by_team": "By team",
    "dashboard.chart_rates": "{by}: rates",
    "dashboard.col.group": "Group",
    "dashboard.col.accounts": "Accounts at start",
    "dashboard.col.overdue_accounts": "Overdue at start",
    "dashboard.col.overdue_start": "Overdue amount at start",
    "dashboard.col.collected": "Collected",
    "dashboard.col.attempts": "Contact attempts",
    "dashboard.col.promises": "Promises due",
    "dashboard.col.complaints": "Complaints",
    "dashboard.group.all": "All",
    "dashboard.arm.champion": "Champion",
    "dashboard.arm.challenger": "Challenger",
    "dashboard.arm.control": "Control",
    "dashboard.group.none": "Unassigned",
    "dashboard.roll.title": "Roll-rate matrix (start → end, share of accounts)",
    "dashboard.roll.from": "Bucket at start",
    "dashboard.roll.empty": "No active accounts at the start.",
    "dashboard.roll.paid_off": "Paid off",
    "dashboard.roll.written_off": "Written off",
    "dashboard.outreach.title": "Outreach by channel",
    "dashboard.outreach.channel": "Channel",
    "dashboard.outreach.pending": "Pending",
    "dashboard.outreach.sent": "Sent",
    "dashboard.outreach.delivered": "Delivered",
    "dashboard.outreach.failed": "Failed",
    "dashboard.outreach.cancelled": "Cancelled",
    "dashboard.outreach.hint": (
        "Counted by each message's planned day (the days after the start, up to the end); "
        "sent includes delivered, failed includes given up after the last try; cancelled "
        "were stopped before sending by a rule, a missing variable or a person."
    ),
    "dashboard.outreach.empty": "No message was queued or sent in this range.",
    "dashboard.blocked.title": "Contacts blocked by the compliance gate, by rule",
    "dashboard.blocked.rule": "Rule",
    "dashboard.blocked.planned": "Blocked in the daily plan",
    "dashboard.blocked.online": "Blocked online",
    "dashboard.blocked.empty": "No contact was blocked in this range.",
    "dashboard.run.title": "Latest daily run ({date}, #{run})",
    "dashboard.run.none": "No completed daily run in this range.",
    "dashboard.run.accounts": "Accounts",
    "dashboard.run.actions": "Planned actions",
    "dashboard.run.planned": "Planned contacts",
    "dashboard.run.allowed": "Allowed",
    "dashboard.run.blocked": "Blocked",
    "dashboard.run.work_queue": "Agent work items",
    "dashboard.run.outbox": "Messages queued",
    "dashboard.capacity.title": "Capacity use",
    "dashboard.capacity.channel": "Channel",
    "dashboard.capacity.team": "Team",
    "dashboard.capacity.total": "channel total",
    "dashboard.capacity.planned": "Planned",
    "dashboard.capacity.scheduled": "Scheduled",
    "dashboard.capacity.carried": "Carried",
    "dashboard.capacity.capacity": "Capacity",
    "dashboard.capacity.used": "Used",
    "dashboard.capacity.unlimited": "unlimited",
    "dashboard.capacity.empty": "The run recorded no capacity use.",
    "dashboard.error.order": "the end date must be after the start date",
    "dashboard.error.span": "the range may span at most {days} days",
    "dashboard.error.bounds": "dates must lie between {low} and {high}",
}
