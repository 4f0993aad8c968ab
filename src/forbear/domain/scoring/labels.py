"""Human labels for scorecard features, in Chinese and English.

Reason codes shown to a borrower or an auditor name the feature in words, not as a
column name: PIPL art. 24 (个人信息保护法第二十四条) requires automated decisions to be
explainable. Feature names are matched after normalisation (lower case, ``.`` and ``-``
read as ``_``), so German Credit's R spelling ``duration.in.month`` and the CSV spelling
``duration_in_month`` share one label. An unknown feature falls back to its column name.
"""

from __future__ import annotations

from collections.abc import Mapping

from forbear.domain.errors import ValidationError

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


def shipped_labels() -> dict[str, tuple[str, str]]:
    """Every label Forbear ships, by normalised feature name."""
    return dict(_LABELS)


_ZH_KEYS = ("zh", "label_zh", "zh-cn", "中文")
_EN_KEYS = ("en", "label_en", "english")


def _entry(where: str, name: str, zh: object, en: object) -> tuple[str, tuple[str, str]]:
    if not name.strip():
        raise ValidationError(where, "the feature name is empty")
    for value, lang in ((zh, "zh"), (en, "en")):
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(where, f"feature {name!r}: the {lang} label is missing")
        if len(value) > 200:
            raise ValidationError(where, f"feature {name!r}: the {lang} label is over 200 chars")
    assert isinstance(zh, str) and isinstance(en, str)
    return name.strip(), (zh.strip(), en.strip())


def parse_labels_yaml(text: str, source: str) -> dict[str, tuple[str, str]]:
    """Labels from YAML: ``feature: {zh: 中文, en: English}`` (or ``[中文, English]``)."""
    import yaml

    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ValidationError(f"{source}{line}", "not valid YAML") from None
    if not isinstance(raw, dict) or not raw:
        raise ValidationError(source, "expected a mapping feature: {zh: ..., en: ...}")
    out: dict[str, tuple[str, str]] = {}
    for key, value in raw.items():
        where = f"{source}: {key}"
        if isinstance(value, dict):
            lowered = {str(k).lower(): v for k, v in value.items()}
            zh = next((lowered[k] for k in _ZH_KEYS if k in lowered), None)
            en = next((lowered[k] for k in _EN_KEYS if k in lowered), None)
        elif isinstance(value, list | tuple) and len(value) == 2:
            zh, en = value
        else:
            raise ValidationError(where, "expected {zh: ..., en: ...} or [zh, en]")
        name, pair = _entry(where, str(key), zh, en)
        out[name] = pair
    return out


def parse_labels_csv(text: str, source: str) -> dict[str, tuple[str, str]]:
    """Labels from CSV with a header ``feature,label_zh,label_en`` (or ``feature,zh,en``)."""
    import csv
    import io

    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in next(reader, [])]
    try:
        i_name = header.index("feature")
        i_zh = next(header.index(k) for k in _ZH_KEYS if k in header)
        i_en = next(header.index(k) for k in _EN_KEYS if k in header)
    except (ValueError, StopIteration):
        raise ValidationError(
            f"{source} line 1", "the header must name feature, label_zh and label_en"
        ) from None
    out: dict[str, tuple[str, str]] = {}
    for row in reader:
        where = f"{source} line {reader.line_num}"
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise ValidationError(where, f"{len(row)} fields, the header has {len(header)}")
        name, pair = _entry(where, row[i_name], row[i_zh], row[i_en])
        out[name] = pair
    if not out:
        raise ValidationError(source, "no labels in the file")
    return out
