"""Catalogue entries: the legal console's pages (issue 15, item 7)
(see :mod:`forbear.web.messages`). Earlier legal keys live in ``collection``."""

from __future__ import annotations

ZH: dict[str, str] = {
    "legal.by_system": "系统",
    # the review queue
    "legal.filter.stage": "阶段",
    "legal.filter.waiting": "待审核（未立案）",
    "legal.filter.min": "诉请金额下限（元）",
    "legal.filter.max": "诉请金额上限（元）",
    "legal.filter.within": "诉讼时效剩余天数 ≤",
    "legal.filter.sort": "排序",
    "legal.filter.per_page": "每页条数",
    "legal.filter.apply": "筛选",
    "legal.filter.clear": "清除筛选",
    "legal.sort.queued": "入队时间（最早在前）",
    "legal.sort.amount": "诉请金额（从低到高）",
    "legal.sort.-amount": "诉请金额（从高到低）",
    "legal.sort.limitation": "诉讼时效（最早到期在前）",
    "legal.sort.-limitation": "诉讼时效（最晚到期在前）",
    "legal.queue.count": "共 {total} 条，第 {page}/{pages} 页",
    "legal.queue.none_match": "没有符合筛选条件的账户。",
    "legal.queue.sort": "排序方式无效。",
    "legal.queue.page": "页码从 1 开始。",
    "legal.queue.per_page": "每页 1 至 {max} 条。",
    "legal.queue.amount_negative": "金额不能小于 0。",
    "legal.queue.amount_order": "金额上限低于下限。",
    "legal.queue.amount_format": "请输入以元为单位的金额，最多两位小数，例如 5000 或 5,000.50。",
    "legal.queue.within": "请输入 0 至 3660 之间的整数天数。",
    "legal.pager": "分页",
    "legal.pager.first": "首页",
    "legal.pager.prev": "上一页",
    "legal.pager.next": "下一页",
    "legal.pager.last": "末页",
    "legal.pager.at": "第 {page}/{pages} 页",
    "legal.col.claim": "诉请金额",
    "legal.col.dpd": "逾期天数",
    "legal.col.debtor": "债务人",
    "legal.days_left": "剩余 {days} 天",
    "legal.claim_as_of": "{date} 账面",
    "legal.watch.more": "另有 {count} 条，按诉讼时效排序查看审核队列",
    # the confirm step
    "legal.confirm.title": "确认立案审核",
    "legal.confirm.intro": (
        "立案审核将为该账户开立法律案件（阶段：法务审核），此后可发送催告函和起诉。"
        "开立前系统会再次检查：账户仍符合条件、没有争议冻结、诉讼时效未届满。"
    ),
    "legal.confirm.button": "确认开立案件",
    "legal.confirm.cancel": "返回审核队列",
    "legal.confirm.has_case": "该账户已有案件：",
    "legal.confirm.gone": "该账户已不在法务审核队列中（已还款、已有还款计划或已不符合条件）。",
    # proof of delivery
    "legal.proof.intro": (
        "进入“已发催告函”须提供送达凭证（快递单号或签收回执），否则不计入诉讼时效中断。"
    ),
    "legal.proof.legend": "催告函送达凭证（进入“已发催告函”时必填）",
    "legal.proof.kind_label": "凭证类型",
    "legal.proof.tracking": "快递/挂号信单号",
    "legal.proof.receipt": "签收回执",
    "legal.proof.other": "其他凭证",
    "legal.proof.tracking_label": "快递单号",
    "legal.proof.receipt_label": "回执编号",
    "legal.proof.signed_label": "签收日期",
    "legal.proof.missing": "催告函须提供送达凭证：请填写快递单号或签收回执。",
    "legal.proof.kind": "凭证类型只能是快递单号或签收回执。",
    "legal.proof.tracking_missing": "请填写快递单号。",
    "legal.proof.tracking_check": "单号 {number} 的校验位不正确，请核对邮件详情单。",
    "legal.proof.tracking_format": (
        "“{number}”不是有效的快递单号：应为邮政国际格式（如 EA123456785CN），"
        "或最多 4 个字母后接 10–20 位数字（如 SF1234567890123）。"
    ),
    "legal.proof.receipt_missing": "请填写签收回执的编号。",
    "legal.proof.receipt_format": "回执编号为 4–64 位字母、数字、-、_ 或 /，且至少含一位数字。",
    "legal.proof.signed_missing": "请填写回执的签收日期。",
    "legal.proof.signed_future": "签收日期 {day} 晚于今天。",
    "legal.proof.signed_early": "签收日期 {day} 早于催告函发出日期 {sent}。",
    # other refusals of a move
    "legal.advance.court_missing": "立案须填写受理法院。",
    "legal.advance.case_number": "立案须填写案号；案号只在立案时填写。",
    "legal.advance.reason_missing": "结案须填写原因。",
    "legal.advance.date": "日期早于当前阶段的日期。",
    "legal.advance.disputed": "该账户有未解决的争议冻结：争议处理完毕前不能采取法律行动。",
    "legal.advance.time_barred": "诉讼时效已届满：不能发送催告函或起诉，请结案。",
    "legal.advance.ended": "案件已结束，不能再变更。",
    "legal.advance.order": (
        "阶段只能向前推进，且不能停留在当前阶段；未发催告函的案件只能结案，不能和解。"
    ),
    "legal.advance.conflict": "该操作与案件当前状态冲突，页面已刷新，请核对后重试。",
    "legal.form.refused_intro": "未保存：请按字段旁的提示修改后重新提交，已填写的内容已保留。",
    "legal.form.invalid": "“{label}”的值无效。",
    "legal.form.date": "请按 年-月-日 填写日期，例如 2026-12-07。",
    # demands
    "legal.demands.title": "催告记录（中断诉讼时效的证据）",
    "legal.demands.at": "日期",
    "legal.demands.channel": "方式",
    "legal.demands.proof": "送达凭证",
    "legal.demands.none": "尚无催告记录。",
    # costs
    "legal.cost.title": "案件费用",
    "legal.cost.kind_label": "费用类型",
    "legal.cost.amount_label": "金额（元）",
    "legal.cost.amount_col": "金额",
    "legal.cost.incurred_label": "发生日期",
    "legal.cost.add": "登记费用",
    "legal.cost.added": "费用已登记。",
    "legal.cost.none": "尚未登记费用。",
    "legal.cost.total": "合计",
    "legal.cost.kind": "费用类型无效。",
    "legal.cost.amount_missing": "请填写金额（元）。",
    "legal.cost.amount_format": "请输入以元为单位的金额，最多两位小数，例如 1250 或 ¥1,250.50。",
    "legal.cost.amount_positive": "金额须大于 0。",
    "legal.cost.amount_max": "单笔费用最多 {max} 元。",
    "legal.cost.future": "发生日期晚于今天。",
    "legal.cost.before_open": "发生日期早于案件开立日期 {opened}。",
    "legal.cost.kind.court_fee": "诉讼费",
    "legal.cost.kind.lawyer_fee": "律师费",
    "legal.cost.kind.preservation_fee": "保全费",
    "legal.cost.kind.notary_fee": "公证费",
    "legal.cost.kind.service_fee": "送达费",
    "legal.cost.kind.enforcement_fee": "执行费",
    "legal.cost.kind.other": "其他费用",
    # documents
    "legal.doc.demand-letter.pdf": "催告函",
    "legal.doc.litigation-package.pdf": "诉讼材料",
    "legal.doc.parties.csv": "当事人",
    "legal.doc.contract.csv": "合同条款",
    "legal.doc.amounts.csv": "诉请金额",
    "legal.doc.findings.csv": "合同审查意见",
    "legal.doc.payments.csv": "还款记录",
    "legal.doc.demands.csv": "催告记录",
    "legal.doc.contacts.csv": "联系记录",
    "legal.doc.case_events.csv": "案件进程",
    "legal.doc.case_costs.csv": "案件费用",
}

EN: dict[str, str] = {
    "legal.by_system": "the system",
    "legal.filter.stage": "Stage",
    "legal.filter.waiting": "Waiting for review (no case)",
    "legal.filter.min": "Claim from (yuan)",
    "legal.filter.max": "Claim up to (yuan)",
    "legal.filter.within": "Limitation within (days)",
    "legal.filter.sort": "Sort by",
    "legal.filter.per_page": "Rows a page",
    "legal.filter.apply": "Filter",
    "legal.filter.clear": "Clear filters",
    "legal.sort.queued": "Queued (oldest first)",
    "legal.sort.amount": "Claim (lowest first)",
    "legal.sort.-amount": "Claim (highest first)",
    "legal.sort.limitation": "Limitation date (soonest first)",
    "legal.sort.-limitation": "Limitation date (latest first)",
    "legal.queue.count": "{total} accounts, page {page} of {pages}",
    "legal.queue.none_match": "No account matches the filters.",
    "legal.queue.sort": "Unknown sort order.",
    "legal.queue.page": "Pages start at 1.",
    "legal.queue.per_page": "1 to {max} rows a page.",
    "legal.queue.amount_negative": "An amount cannot be below 0.",
    "legal.queue.amount_order": "The upper amount is below the lower one.",
    "legal.queue.amount_format": (
        "An amount in yuan with at most 2 decimals, e.g. 5000 or 5,000.50."
    ),
    "legal.queue.within": "A whole number of days from 0 to 3660.",
    "legal.pager": "Pages",
    "legal.pager.first": "First",
    "legal.pager.prev": "Previous",
    "legal.pager.next": "Next",
    "legal.pager.last": "Last",
    "legal.pager.at": "Page {page} of {pages}",
    "legal.col.claim": "Claim",
    "legal.col.dpd": "Days past due",
    "legal.col.debtor": "Debtor",
    "legal.days_left": "{days} days left",
    "legal.claim_as_of": "ledger of {date}",
    "legal.watch.more": "{count} more: see the review queue sorted by limitation date",
    "legal.confirm.title": "Confirm: open a legal case",
    "legal.confirm.intro": (
        "Opening a case puts this account in legal review; demand letters and a suit can "
        "follow. Before it is opened the account is checked again: still eligible, no "
        "dispute hold, limitation period not run."
    ),
    "legal.confirm.button": "Open the case",
    "legal.confirm.cancel": "Back to the review queue",
    "legal.confirm.has_case": "This account already has a case:",
    "legal.confirm.gone": (
        "This account is no longer in the legal review queue (paid, on a plan, or no longer "
        "eligible)."
    ),
    "legal.proof.intro": (
        "Moving to “demand letter sent” needs proof of delivery (a tracking number or a "
        "signed receipt); without it the demand does not restart the limitation period."
    ),
    "legal.proof.legend": (
        "Proof of delivery of the demand letter (needed for “demand letter sent”)"
    ),
    "legal.proof.kind_label": "Kind of proof",
    "legal.proof.tracking": "Courier / registered post tracking number",
    "legal.proof.receipt": "Signed receipt",
    "legal.proof.other": "Other proof",
    "legal.proof.tracking_label": "Tracking number",
    "legal.proof.receipt_label": "Receipt reference",
    "legal.proof.signed_label": "Signed on",
    "legal.proof.missing": (
        "A demand letter needs proof of delivery: a tracking number or a signed receipt."
    ),
    "legal.proof.kind": "The proof is a tracking number or a signed receipt.",
    "legal.proof.tracking_missing": "Give the tracking number.",
    "legal.proof.tracking_check": "The check digit of {number} is wrong: check the postal receipt.",
    "legal.proof.tracking_format": (
        "“{number}” is not a tracking number: a postal item number (e.g. EA123456785CN) or "
        "up to 4 letters then 10-20 digits (e.g. SF1234567890123)."
    ),
    "legal.proof.receipt_missing": "Give the signed receipt's reference.",
    "legal.proof.receipt_format": (
        "A receipt reference is 4-64 letters, digits, -, _ or /, with at least one digit."
    ),
    "legal.proof.signed_missing": "Give the day the receipt was signed.",
    "legal.proof.signed_future": "The receipt's date {day} is after today.",
    "legal.proof.signed_early": "The receipt is signed {day}, before the letter was sent ({sent}).",
    "legal.advance.court_missing": "Filing needs the court.",
    "legal.advance.case_number": (
        "Filing needs the case number; a case number is given only when filing."
    ),
    "legal.advance.reason_missing": "Closing a case needs a reason.",
    "legal.advance.date": "The date is before the current stage's date.",
    "legal.advance.disputed": (
        "The account has an open dispute hold: no legal action until the dispute is resolved."
    ),
    "legal.advance.time_barred": (
        "The limitation period has run: no demand letter or suit; close the case instead."
    ),
    "legal.advance.ended": "The case has ended and cannot change.",
    "legal.advance.order": (
        "Stages only move forward, never to the stage the case is at; a case without a "
        "demand letter is closed, not settled."
    ),
    "legal.advance.conflict": (
        "This contradicts the case as it is now; check the page and try again."
    ),
    "legal.form.refused_intro": (
        "Not saved: correct the field marked below and send again; what you typed is kept."
    ),
    "legal.form.invalid": "The value of “{label}” is not valid.",
    "legal.form.date": "A date as YYYY-MM-DD, e.g. 2026-12-07.",
    "legal.demands.title": "Demands (evidence that restarts limitation)",
    "legal.demands.at": "Date",
    "legal.demands.channel": "Channel",
    "legal.demands.proof": "Proof of delivery",
    "legal.demands.none": "No demand logged yet.",
    "legal.cost.title": "Case costs",
    "legal.cost.kind_label": "Kind of cost",
    "legal.cost.amount_label": "Amount (yuan)",
    "legal.cost.amount_col": "Amount",
    "legal.cost.incurred_label": "Incurred on",
    "legal.cost.add": "Add cost",
    "legal.cost.added": "Cost recorded.",
    "legal.cost.none": "No costs recorded yet.",
    "legal.cost.total": "Total",
    "legal.cost.kind": "Unknown kind of cost.",
    "legal.cost.amount_missing": "Give the amount in yuan.",
    "legal.cost.amount_format": (
        "An amount in yuan with at most 2 decimals, e.g. 1250 or ¥1,250.50."
    ),
    "legal.cost.amount_positive": "The amount must be more than 0.",
    "legal.cost.amount_max": "One cost is at most {max} yuan.",
    "legal.cost.future": "The day is after today.",
    "legal.cost.before_open": "The day is before the case was opened ({opened}).",
    "legal.cost.kind.court_fee": "Court fee",
    "legal.cost.kind.lawyer_fee": "Lawyer's fee",
    "legal.cost.kind.preservation_fee": "Preservation fee",
    "legal.cost.kind.notary_fee": "Notary fee",
    "legal.cost.kind.service_fee": "Service of process fee",
    "legal.cost.kind.enforcement_fee": "Enforcement fee",
    "legal.cost.kind.other": "Other cost",
    "legal.doc.demand-letter.pdf": "Demand letter",
    "legal.doc.litigation-package.pdf": "Litigation package",
    "legal.doc.parties.csv": "Parties",
    "legal.doc.contract.csv": "Contract terms",
    "legal.doc.amounts.csv": "Amounts claimed",
    "legal.doc.findings.csv": "Contract review findings",
    "legal.doc.payments.csv": "Payments",
    "legal.doc.demands.csv": "Demands",
    "legal.doc.contacts.csv": "Contacts",
    "legal.doc.case_events.csv": "Case history",
    "legal.doc.case_costs.csv": "Case costs",
}
