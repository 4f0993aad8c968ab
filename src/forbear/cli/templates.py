"""``forbear template``: message templates: check against the content filter, add,
approve, list; the filter's corpus: eval (precision and recall by layer and language) and
fit (the semantic layer's classifier from the TRAIN split)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from forbear.cli.common import EXIT_ERROR, cli_actor, console, open_app
from forbear.domain.errors import ValidationError

app = typer.Typer(
    help="Message templates: check against the content filter, add, list; evaluate the filter."
)

AudienceOpt = Annotated[str, typer.Option("--audience", help="debtor or third_party")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="zh or en; default: detect")]


def _print_violations(violations: list[object], title: str) -> None:
    table = Table(title=title)
    for name in ("Rule", "Category", "Layer 层", "Span", "Excerpt", "Why 原因"):
        table.add_column(name)
    for v in violations:
        table.add_row(
            getattr(v, "rule_id", ""),
            str(getattr(v, "category", "")),
            str(getattr(v, "layer", "")),
            f"{getattr(v, 'start', 0)}-{getattr(v, 'end', 0)}",
            getattr(v, "excerpt", "") or "(missing)",
            f"{getattr(v, 'message_zh', '')} / {getattr(v, 'message_en', '')}",
        )
    console.print(table)


def _template_text(file: Path | None, text: str | None) -> str:
    if (file is None) == (text is None):
        raise ValidationError("FILE", "give a template file or --text, not both")
    if text is not None:
        return text
    assert file is not None
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError("FILE", f"cannot read {file.name} as UTF-8 text: {exc}") from None


@app.command("check")
def template_check(
    file: Annotated[Path | None, typer.Argument(help="template file (UTF-8)")] = None,
    text: Annotated[str | None, typer.Option("--text", help="check this text instead")] = None,
    audience: AudienceOpt = "debtor",
    lang: LangOpt = None,
    channel: Annotated[
        str | None, typer.Option("--channel", help="sms, email, ...: English texts need an opt-out")
    ] = None,
    time_barred: Annotated[
        bool, typer.Option("--time-barred", help="the debt is past its limitation period")
    ] = False,
    pack: Annotated[
        str, typer.Option("--pack", help="the lender's rule pack (CN or US): the rule ids")
    ] = "CN",
    semantic: Annotated[
        bool,
        typer.Option("--semantic/--no-semantic", help="also the sentence classifier (default)"),
    ] = True,
) -> None:
    """Check a template or text against the content filter; exit 1 if anything is found,
    and exit 1 with the reason if the text cannot be checked (empty, control bytes, too
    long): nothing unread ever passes as clean."""
    from dataclasses import replace

    from forbear.domain.compliance.content import PACK_RULES, check_template
    from forbear.services.templates import context_for

    body = _template_text(file, text)
    if audience not in ("debtor", "third_party"):
        raise ValidationError("--audience", "debtor or third_party")
    if lang not in (None, "zh", "en"):
        raise ValidationError("--lang", "zh or en")
    if pack not in PACK_RULES:
        raise ValidationError("--pack", f"one of {', '.join(PACK_RULES)}")
    context = replace(context_for(channel or "", lang or "", time_barred=time_barred), pack=pack)
    violations = check_template(
        body,
        lang=lang,  # type: ignore[arg-type]
        audience=audience,  # type: ignore[arg-type]
        context=context,
        semantic=semantic,
    )
    if not violations:
        console.print("[green]✓[/] no violations 未发现违规内容")
        return
    _print_violations(list(violations), f"{len(violations)} violation(s) 违规")
    raise typer.Exit(EXIT_ERROR)


@app.command("add")
def template_add(
    code: str,
    file: Annotated[Path, typer.Option("--file", help="template body (UTF-8)")],
    channel: Annotated[str, typer.Option("--channel", help="sms, email, im, letter, ...")] = "sms",
    audience: AudienceOpt = "debtor",
    lang: LangOpt = None,
    approve: Annotated[bool, typer.Option("--approve", help="approve it at once")] = False,
) -> None:
    """Store a template as the next version of CODE, if it passes the content filter."""
    from forbear.domain.compliance.content import ContentRejected
    from forbear.services import templates

    body = _template_text(file, None)
    chosen = lang or ("zh" if any("\u4e00" <= c <= "\u9fff" for c in body) else "en")
    forbear = open_app()
    try:
        with forbear.transaction() as conn:
            info = templates.save_template(
                conn, code, channel, audience, chosen, body, actor=cli_actor(), now=forbear.now()
            )
            if approve:
                info = templates.approve_template(
                    conn, code, info.version, actor=cli_actor(), now=forbear.now()
                )
    except ContentRejected as exc:
        _print_violations(list(exc.violations), f"template {code} refused, nothing stored 未保存")
        raise typer.Exit(EXIT_ERROR) from None
    console.print(f"[green]✓[/] template {info.code} v{info.version} ({info.lang}) {info.status}")


@app.command("approve")
def template_approve(
    code: str,
    version: Annotated[int | None, typer.Option("--version", help="default: the newest")] = None,
) -> None:
    """Approve a version of a template (the one approved before is retired)."""
    from forbear.services import templates

    forbear = open_app()
    with forbear.transaction() as conn:
        info = templates.approve_template(conn, code, version, actor=cli_actor(), now=forbear.now())
    console.print(f"[green]✓[/] template {info.code} v{info.version} approved")


@app.command("list")
def template_list(
    code: Annotated[str | None, typer.Option("--code", help="only this code")] = None,
) -> None:
    """Every stored template version with its status."""
    from forbear.services import templates

    forbear = open_app()
    with forbear.transaction() as conn:
        rows = templates.list_templates(conn, code=code)
    table = Table(title="Templates 模板")
    for name in ("ID", "Code", "Version", "Channel", "Audience", "Lang", "Status", "Checked (UTC)"):
        table.add_column(name)
    table.add_column("Body", overflow="ellipsis", max_width=50, no_wrap=True)
    for t in rows:
        checked = t.checked_at.strftime("%Y-%m-%d %H:%M") if t.checked_at else ""
        table.add_row(
            str(t.id),
            t.code,
            str(t.version),
            t.channel,
            t.audience,
            t.lang,
            t.status,
            checked,
            t.body.replace("\n", " "),
        )
    console.print(table)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


@app.command("eval")
def template_eval(
    file: Annotated[Path, typer.Argument(help="a corpus file (see corpus/eval.yaml)")],
    by: Annotated[str, typer.Option("--by", help="layer, language, or both")] = "both",
    pack: Annotated[str, typer.Option("--pack", help="CN or US")] = "CN",
    semantic: Annotated[
        bool, typer.Option("--semantic/--no-semantic", help="include the sentence classifier")
    ] = True,
) -> None:
    """Precision and recall of the content filter on a corpus file, by layer and language,
    and every polite message it flags (false positives: the target is none)."""
    from forbear.domain.compliance.content import CheckContext, check_text
    from forbear.domain.compliance.content.corpus import evaluate, load

    if by not in ("layer", "language", "both"):
        raise ValidationError("--by", "layer, language or both")
    items = load(file)
    context = CheckContext(pack=pack)
    report = evaluate(
        items,
        lambda item: check_text(item.text, lang=item.lang, context=context, semantic=semantic),
    )
    table = Table(title=f"{file.name}: {report.items} texts, {report.violating} forbidden 违规")
    for name in (
        "Slice 范围",
        "Caught 命中",
        "Missed 漏报",
        "False alarms 误报",
        "Precision",
        "Recall",
        "Category right",
    ):
        table.add_column(name)

    def row(label: str, c: object) -> None:
        from forbear.domain.compliance.content.corpus import Counts

        assert isinstance(c, Counts)
        table.add_row(
            label,
            str(c.true_positive),
            str(c.false_negative),
            str(c.false_positive),
            _percent(c.precision),
            _percent(c.recall),
            f"{c.category_right}/{c.true_positive}",
        )

    row("all 全部", report.overall)
    if by in ("language", "both"):
        for lang, counts in sorted(report.by_language.items()):
            row(f"language {lang}", counts)
    if by in ("layer", "both"):
        for layer, counts in report.by_layer.items():
            row(f"layer {layer}", counts)
    if by == "both":
        for (layer, lang), counts in sorted(report.by_layer_language.items()):
            row(f"{layer} / {lang}", counts)
    console.print(table)
    console.print(
        f"False positives on polite messages 礼貌消息误报: {len(report.false_positives)} "
        f"of {report.polite}"
    )
    for item, found in report.false_positives:
        where = ", ".join(f"{v.layer}:{v.category}" for v in found)
        console.print(
            escape(f"  line {item.line} [{item.lang}/{item.kind}] {item.text}  ← {where}")
        )
    if report.misses:
        console.print(f"Missed 漏报: {len(report.misses)}")
        for item in report.misses:
            console.print(
                escape(f"  line {item.line} [{item.lang}/{item.label}/{item.kind}] {item.text}")
            )


@app.command("fit")
def template_fit(
    train: Annotated[
        Path | None, typer.Option("--train", help="default: the packaged corpus/train.yaml")
    ] = None,
) -> None:
    """Fit the semantic layer's classifier on the TRAIN split and store it in the package
    (content/semantic_model.yaml). Never give it the EVAL split."""
    from forbear.domain.compliance.content.semantic import fit_corpus, packaged_dir

    if train is not None and train.name.startswith("eval"):
        raise ValidationError("--train", "the EVAL split is held apart: never fitted on")
    model = fit_corpus(train)
    path = model.save(packaged_dir())
    console.print(
        f"[green]✓[/] fitted on {model.meta['texts']} texts, classes "
        f"{', '.join(model.classes)}, threshold {model.threshold:.2f}: {path.name}"
    )
