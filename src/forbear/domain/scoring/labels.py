"""Human labels for scorecard features, in Chinese and English.

Reason codes shown to a borrower or an auditor name the feature in words, not as a
column name: PIPL art. 24 (个人信息保护法第二十四条) requires automated decisions to be
explainable. Feature names are matched after normalisation (lower case, ``.`` and ``-``
read as ``_``), so German Credit's R spelling ``duration.in.month`` and the CSV spelling
``duration_in_month`` share one label. An unknown feature falls back to its column name.
"""

from __future__ import annotations

from collections.abc import Mapping

# (label_zh, label_en)
_LABELS: dict[str, tuple[str, str]] = {
    # German Credit (UCI Statlog), the 20 attributes
    "status_of_existing_checking_account": (
        "现有支票账户状态",
        "Status of existing checking account",
    ),
    "duration_in_month": ("贷款期限（月）", "Duration in months"),
    "credit_history": ("信用历史", "Credit history"),
    "purpose": ("贷款用途", "Purpose of the loan"),
    "credit_amount": ("贷款金额", "Credit amount"),
    "savings_account_and_bonds": ("储蓄账户及债券", "Savings account and bonds"),
    "present_employment_since": ("当前工作年限", "Present employment since"),
    "installment_rate_in_percentage_of_disposable_income": (
        "月供占可支配收入比例",
        "Instalment rate in % of disposable income",
    ),
    "personal_status_and_sex": ("婚姻状况及性别", "Personal status and sex"),
    "other_debtors_or_guarantors": ("其他债务人或担保人", "Other debtors or guarantors"),
    "present_residence_since": ("现住址居住年限", "Present residence since"),
    "property": ("财产", "Property"),
    "age_in_years": ("年龄", "Age in years"),
    "other_installment_plans": ("其他分期付款计划", "Other instalment plans"),
    "housing": ("住房情况", "Housing"),
    "number_of_existing_credits_at_this_bank": (
        "在本行现有贷款笔数",
        "Number of existing credits at this bank",
    ),
    "job": ("职业", "Job"),
    "number_of_people_being_liable_to_provide_maintenance_for": (
        "需抚养人数",
        "Number of dependants",
    ),
    "telephone": ("是否登记电话", "Telephone registered"),
    "foreign_worker": ("是否外籍劳工", "Foreign worker"),
    # behaviour (collections) features
    "months_on_book": ("账龄（月）", "Months on book"),
    "payment_ratio_3m": ("近3个月还款比例", "Payment ratio, last 3 months"),
    "payment_ratio_6m": ("近6个月还款比例", "Payment ratio, last 6 months"),
    "max_dpd_3m": ("近3个月最大逾期天数", "Max days past due, last 3 months"),
    "max_dpd_6m": ("近6个月最大逾期天数", "Max days past due, last 6 months"),
    "max_dpd_12m": ("近12个月最大逾期天数", "Max days past due, last 12 months"),
    "dpd": ("当前逾期天数", "Days past due"),
    "days_past_due": ("当前逾期天数", "Days past due"),
    "times_30dpd_12m": ("近12个月逾期30天以上次数", "Times 30+ dpd, last 12 months"),
    "utilisation": ("额度使用率", "Credit utilisation"),
    "utilization": ("额度使用率", "Credit utilisation"),
    "broken_promises_6m": ("近6个月违背还款承诺次数", "Broken promises, last 6 months"),
    "kept_promises_6m": ("近6个月履行还款承诺次数", "Kept promises, last 6 months"),
    "contacts_6m": ("近6个月联系次数", "Contacts, last 6 months"),
    "right_party_contacts_6m": ("近6个月本人接通次数", "Right-party contacts, last 6 months"),
    "overdue_amount": ("逾期金额", "Overdue amount"),
    "outstanding_amount": ("未偿余额", "Outstanding balance"),
    "overdue_ratio": ("逾期金额占比", "Overdue share of balance"),
    "instalments_paid": ("已还期数", "Instalments paid"),
    "remaining_instalments": ("剩余期数", "Remaining instalments"),
    "days_since_last_payment": ("距上次还款天数", "Days since last payment"),
    "age": ("年龄", "Age"),
    "income": ("收入", "Income"),
    "loan_amount": ("贷款金额", "Loan amount"),
    "term_months": ("贷款期限（月）", "Term in months"),
}


def _normalise(name: str) -> str:
    return name.strip().lower().replace(".", "_").replace("-", "_").replace(" ", "_")


def feature_label(
    name: str, overrides: Mapping[str, tuple[str, str]] | None = None
) -> tuple[str, str]:
    """``(label_zh, label_en)`` for a feature; the column name itself if unknown."""
    if overrides and name in overrides:
        return overrides[name]
    return _LABELS.get(_normalise(name), (name, name))
