"""Benchmark: the content filter on every send (issue 17, for issue 13's dispatcher).

Run from the repository root::

    .venv/bin/python benchmarks/content.py                # 20,000 rendered messages
    .venv/bin/python benchmarks/content.py --messages 100000
    .venv/bin/python benchmarks/content.py --smoke        # seconds, used by the tests
    .venv/bin/python benchmarks/content.py --json out.json

Measured, as CPU time per message (``time.process_time``: the machine is shared):

- **send**: ``check_text`` on rendered template messages (the shipped-library style, zh
  and en, each rendered with a different name, amount and date, as the dispatcher sends
  them): refusal of unreadable text, normalisation, the one-pass lexicon matcher, the
  pinyin layer. p50 and p99 over batches, and messages per second.
- **baseline "per-entry regexes"**: the matcher the filter had before issue 17 (one
  compiled alternation per lexicon entry, each scanning the normalised text), on the same
  messages, plus the same normalisation: the lexicon step before and after.
- **template, cached**: ``check_template`` with the semantic layer on a template body
  whose sentences were already judged (the verdict cache: what every later check of the
  same template costs).
- **semantic, first sight**: the encoder's cost per new sentence (each template pays it
  once per process), after the model and the encoder are loaded (**semantic load**, once
  per process).

Speed is printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

from forbear.domain.compliance.content import (
    check_template,
    check_text,
    fill,
    lexicon,
    normalise,
)

TEMPLATES = {
    "zh": [
        "【{company}】{name}您好，您的借款本期应还{amount}，还款日为{due_date}，请按时还款。回T退订",
        "{name}您好，您的账单已逾期{overdue_days}天，请尽快登录APP还款，如有困难可致电{phone}协商。",
        "您好{name}，若协商不成，我司将依法起诉，以法院判决为准。如需分期还款请联系{phone}。",
    ],
    "en": [
        "Hi {name}, this is a reminder that your payment of {amount} is due on {due_date}. "
        "Reply STOP to opt out.",
        "{name}, your account is {overdue_days} days past due. Please pay in the app or call "
        "{phone} to discuss a payment plan. Text STOP to unsubscribe.",
    ],
}
NAMES = {"zh": ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊"], "en": ["Alex Smith", "Jordan Lee"]}


def _messages(count: int, seed: int = 7) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for k in range(count):
        lang = "zh" if k % 3 else "en"
        body = rng.choice(TEMPLATES[lang])
        amount = f"{rng.randint(100, 90000) / 100:,.2f}"
        values = {
            "name": rng.choice(NAMES[lang]),
            "amount": f"{amount}元" if lang == "zh" else f"${amount}",
            "due_date": f"2026年12月{rng.randint(1, 28)}日"
            if lang == "zh"
            else f"December {rng.randint(1, 28)}",
            "overdue_days": str(rng.randint(1, 90)),
            "company": "某某消费金融",
            "phone": "400-000-0000",
        }
        out.append((lang, fill(body, values).text))
    return out


def _per_entry_baseline(text: str, lang: str) -> int:
    """The matcher before issue 17: every entry's own alternation scans the text."""
    norm = normalise(text).text
    hits = 0
    for code in ("zh", "en") if lang == "zh" else ("en",):
        for entry in lexicon(code).entries:  # type: ignore[arg-type]
            hits += sum(1 for _ in entry.pattern.finditer(norm))
    return hits


def _timed(fn: Any, items: list[tuple[str, str]], batch: int) -> dict[str, float]:
    per_message: list[float] = []
    total = 0.0
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        began = time.process_time()
        for lang, text in chunk:
            fn(text, lang)
        spent = time.process_time() - began
        total += spent
        per_message.append(spent / len(chunk) * 1e3)
    return {
        "messages": len(items),
        "cpu_ms_per_message_p50": round(statistics.median(per_message), 4),
        "cpu_ms_per_message_p99": round(
            sorted(per_message)[max(0, int(len(per_message) * 0.99) - 1)], 4
        ),
        "messages_per_cpu_second": round(len(items) / total) if total else 0,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--smoke", action="store_true", help="a few hundred messages")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    count = 300 if args.smoke else args.messages
    batch = 50 if args.smoke else 500
    items = _messages(count)

    for lang, text in items[:20]:  # warm the caches (per-character tables, compiled lexicons)
        check_text(text, lang=lang)  # type: ignore[arg-type]
        _per_entry_baseline(text, lang)
    findings = sum(len(check_text(t, lang=lang)) for lang, t in items)  # type: ignore[arg-type]
    figures: dict[str, Any] = {
        "send": _timed(lambda t, lang: check_text(t, lang=lang), items, batch),
        "baseline_per_entry_regexes": _timed(_per_entry_baseline, items, batch),
        "lexicon_matcher_only": _timed(
            lambda t, lang: [
                lexicon(code).matcher.find(normalise(t).text)  # type: ignore[union-attr]
                for code in (("zh", "en") if lang == "zh" else ("en",))
            ],
            items,
            batch,
        ),
        "findings_on_polite_messages": findings,
    }
    # the semantic layer: loading the model and the encoder (once per process), first
    # sight of each template's sentences, then cached
    from forbear.domain.compliance.content.semantic import e5_engine, packaged_model

    began = time.process_time()
    packaged_model()
    e5_engine()
    figures["semantic_load_ms"] = round((time.process_time() - began) * 1e3, 1)
    bodies = [b for lang in TEMPLATES for b in TEMPLATES[lang]]
    began = time.process_time()
    for body in bodies:
        check_template(body)
    first = time.process_time() - began
    repeats = 20 if args.smoke else 500
    began = time.process_time()
    for _ in range(repeats):
        for body in bodies:
            check_template(body)
    cached = time.process_time() - began
    figures["template_first_sight_ms"] = round(first / len(bodies) * 1e3, 2)
    figures["template_cached_ms"] = round(cached / (repeats * len(bodies)) * 1e3, 4)

    send = figures["send"]
    base = figures["baseline_per_entry_regexes"]
    print(f"content filter, {count:,} rendered messages (CPU time; machine shared)")
    print(
        f"  send (check_text, all cheap layers): p50 {send['cpu_ms_per_message_p50']} ms, "
        f"p99 {send['cpu_ms_per_message_p99']} ms, {send['messages_per_cpu_second']:,} msg/CPU-s"
    )
    print(
        f"  lexicon step: one-pass matcher p50 "
        f"{figures['lexicon_matcher_only']['cpu_ms_per_message_p50']} ms vs per-entry regexes "
        f"(before) p50 {base['cpu_ms_per_message_p50']} ms"
    )
    print(
        f"  template check with semantic: model and encoder load {figures['semantic_load_ms']} "
        f"ms once, then first sight {figures['template_first_sight_ms']} ms, "
        f"cached {figures['template_cached_ms']} ms"
    )
    print(f"  findings on these polite messages: {findings}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
