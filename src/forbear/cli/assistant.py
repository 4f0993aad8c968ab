"""``forbear assistant``: train the intent model, classify and evaluate message files, and
chat with the assistant on the terminal (issue 14).

``train`` writes the artefact (``--out``, default ``settings.assistant_model_dir`` or
``<data_dir>/models/assistant``); ``classify`` and ``eval`` read it (training it first when
it is missing or stale, with a note on stderr). Message files: CSV, JSONL or YAML with a
``text`` field (``eval`` also needs ``intent``). A bad file is refused whole with the line
of its first problem, exit code 2, nothing printed on stdout. Message texts are never
echoed: output lines carry the file's line number (and its ``id`` field when present).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from forbear.bootstrap import load_settings
from forbear.cli.common import EXIT_REJECTED, console, err, open_app, parse_date, report_error

if TYPE_CHECKING:
    from forbear.assistant.nlu.model import TrainedUnderstander

app = typer.Typer(help="The borrower assistant: train, classify, eval, chat.", no_args_is_help=True)

ModelDir = Annotated[
    Path | None,
    typer.Option(
        "--model",
        help="the model directory (default: settings.assistant_model_dir or "
        "<data_dir>/models/assistant)",
    ),
]
Today = Annotated[
    str | None,
    typer.Option("--today", help="the day dates are read from, YYYY-MM-DD (default: today)"),
]
MessageFile = Annotated[
    Path, typer.Argument(help="CSV, JSONL or YAML with a 'text' field", show_default=False)
]


def _model_dir_and_today(model: Path | None, today: str | None) -> tuple[Path, date]:
    from forbear.assistant.nlu.model import default_model_dir

    day = parse_date(today, "--today") if today is not None else None
    if model is not None and day is not None:
        return model, day
    forbear = open_app()
    directory = default_model_dir(forbear.settings.assistant_model_dir, forbear.settings.data_dir)
    return (model or directory), (day or forbear.today())


def _understander(model_dir: Path) -> TrainedUnderstander:
    from forbear.assistant.nlu.model import ModelUnusable, load, load_or_train

    try:
        return load(model_dir)
    except ModelUnusable as exc:
        err.print(f"note: {exc}; training it now", highlight=False, soft_wrap=True)
    return load_or_train(model_dir)


def _bad_file(exc: Exception) -> None:
    err.print(f"[red]error:[/] {exc} (nothing done)", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_REJECTED)


@app.command("train")
def train_command(
    data: Annotated[
        Path | None, typer.Option("--data", help="training set YAML (default: the shipped one)")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="the model directory to write")] = None,
) -> None:
    """Cross-validate on the training set, then fit and write the intent model."""
    from forbear.assistant.nlu import model

    try:
        # training reads no database: the settings alone name the model directory, so
        # the demo trains it beside building its book (no migration, no lock)
        settings = load_settings()
        out_dir = out or model.default_model_dir(settings.assistant_model_dir, settings.data_dir)
        data_path = data or model.DEFAULT_DATA
        report = model.train(data_path, out_dir)
    except Exception as exc:
        raise typer.Exit(report_error(exc)) from None
    console.print(
        f"trained on {report.examples} messages in {report.seconds:.1f} s: "
        f"{model.FOLDS}-fold CV accuracy {report.cv_accuracy:.3f}, "
        f"macro-F1 {report.cv_macro_f1:.3f}; confident when p >= {report.min_confidence} "
        f"and margin >= {report.min_margin}",
        highlight=False,
    )
    console.print(f"wrote {report.out_dir}", highlight=False, soft_wrap=True)
    if data_path.resolve() != model.DEFAULT_DATA:
        err.print(
            "note: trained on other data than the shipped training set: the app refuses this "
            "model (its training-data hash differs)",
            highlight=False,
        )


def _as_json(message: Any, u: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"line": message.line}
    if message.id is not None:
        row["id"] = message.id
    row |= {
        "intent": u.intent,
        "confidence": u.confidence,
        "runner_up": u.runner_up,
        "margin": u.margin,
        "confident": u.confident,
        "language": u.language,
        "amounts": [a.fen for a in u.amounts],
        "dates": [d.on.isoformat() if d.on else None for d in u.dates],
        "date_questions": [d.question for d in u.dates if d.question],
        "digits": list(u.digits),
    }
    return row


@app.command("classify")
def classify_command(file: MessageFile, model: ModelDir = None, today: Today = None) -> None:
    """Print one JSON line per message: intent, confidence, runner-up, margin, entities."""
    from forbear.assistant.nlu.files import MessageFileError, read_messages

    try:
        messages = read_messages(file)
    except MessageFileError as exc:
        _bad_file(exc)
    try:
        model_dir, day = _model_dir_and_today(model, today)
        understander = _understander(model_dir)
        found = understander.understand_many([m.text for m in messages], today=day)
    except Exception as exc:
        raise typer.Exit(report_error(exc)) from None
    for message, u in zip(messages, found, strict=True):
        typer.echo(json.dumps(_as_json(message, u), ensure_ascii=False))


@app.command("eval")
def eval_command(
    file: Annotated[Path, typer.Argument(help="CSV, JSONL or YAML with 'text' and 'intent'")],
    model: ModelDir = None,
    today: Today = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """Accuracy, macro-F1, per-intent precision and recall, the confusion matrix, and the
    out-of-scope messages confidently taken as a transactional intent."""
    from forbear.assistant.nlu.evaluation import evaluate
    from forbear.assistant.nlu.files import MessageFileError, read_messages

    try:
        messages = read_messages(file, need_intent=True)
    except MessageFileError as exc:
        _bad_file(exc)
    try:
        model_dir, day = _model_dir_and_today(model, today)
        understander = _understander(model_dir)
        figures = evaluate(
            understander,
            [m.text for m in messages],
            [m.intent or "" for m in messages],
            today=day,
        )
    except Exception as exc:
        raise typer.Exit(report_error(exc)) from None
    if as_json:
        typer.echo(json.dumps(figures, ensure_ascii=False, indent=2))
        return
    _print_figures(figures)


def _print_figures(figures: dict[str, Any]) -> None:
    from rich.table import Table

    console.print(
        f"{figures['messages']} messages: accuracy {figures['accuracy']:.3f}, "
        f"macro-F1 {figures['macro_f1']:.3f}; confident {figures['confident_share']:.1%} "
        f"(of which right {figures['confident_accuracy']:.1%}); out of scope confidently "
        f"taken as transactional: {figures['out_of_scope_confident_transactional']}",
        highlight=False,
    )
    per = Table(title="per intent")
    for column in ("intent", "precision", "recall", "f1", "support"):
        per.add_column(column, justify="left" if column == "intent" else "right")
    for intent, row in figures["per_intent"].items():
        if row["support"] or row["precision"]:
            per.add_row(
                intent,
                f"{row['precision']:.2f}",
                f"{row['recall']:.2f}",
                f"{row['f1']:.2f}",
                str(row["support"]),
            )
    console.print(per)
    labels = figures["labels"]
    used = [
        i
        for i, _ in enumerate(labels)
        if sum(figures["confusion"][i]) or sum(r[i] for r in figures["confusion"])
    ]
    matrix = Table(title="confusion (rows: true, columns: predicted)")
    matrix.add_column("true \\ predicted")
    for i in used:
        matrix.add_column(str(i + 1), justify="right")
    for i in used:
        cells = [str(figures["confusion"][i][j] or ".") for j in used]
        matrix.add_row(f"{i + 1} {labels[i]}", *cells)
    console.print(matrix)


@app.command("chat")
def chat_command(
    borrower: Annotated[
        int | None, typer.Option("--borrower", help="speak as this borrower (identified)")
    ] = None,
    phone: Annotated[
        str | None,
        typer.Option("--phone", help="speak as an SMS sender from this number (ID check applies)"),
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="zh or en")] = "zh",
) -> None:
    """Chat with the assistant on the terminal: one line, one message."""
    import sys

    from forbear.assistant.engine import build
    from forbear.assistant.terminal import chat

    if (borrower is None) == (phone is None) or lang not in ("zh", "en"):
        err.print("[red]error:[/] give --borrower ID or --phone NUMBER, and --lang zh or en")
        raise typer.Exit(EXIT_REJECTED)
    try:
        forbear = open_app()
        engine = build(forbear)
        engine.deliver = False  # a terminal conversation sends nothing anywhere
        interactive = sys.stdin.isatty()

        def lines() -> Any:
            while True:
                if interactive:
                    sys.stdout.write("> ")
                    sys.stdout.flush()
                line = sys.stdin.readline()
                if not line:
                    return
                yield line

        chat(
            forbear,
            engine,
            lines=lines(),
            write=lambda text: print(text, flush=True),
            borrower_id=borrower,
            phone=phone,
            lang=lang,
        )
    except Exception as exc:
        raise typer.Exit(report_error(exc)) from None
