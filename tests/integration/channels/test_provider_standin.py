"""The provider stand-in's accept log: durable keys across restarts, a line cut short by
a crash skipped and not glued to the next, repeats acknowledged once, conflicting repeats
counted, concurrent senders of one key logged once."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from forbear.channels.base import OutgoingMessage
from forbear.channels.webhook import JsonWebhookAdapter
from forbear.sim.provider import accepted_keys
from integration.channels.standins import HOOK_SECRET, StandInFactory


def hook(url: str) -> JsonWebhookAdapter:
    return JsonWebhookAdapter.from_options(
        "h", {"url": f"{url}/hooks/h"}, data_dir=Path("/nonexistent"), secrets={"h": HOOK_SECRET}
    )


def message(key: str, body: str = "您好") -> OutgoingMessage:
    return OutgoingMessage(message_id=key, channel="im", to="user-1", body=body)


def test_a_line_cut_short_by_a_crash_is_skipped_and_not_glued_to_the_next(
    standin: StandInFactory, tmp_path: Path
) -> None:
    log = tmp_path / "accept.log"
    whole = {"key": "k-1", "kind": "h", "ref": "h-1", "digest": "d"}
    log.write_text(json.dumps(whole) + "\n" + '{"key": "k-2", "ki')
    adapter = hook(standin(log=log).url)
    assert adapter.send(message("k-1")).provider_ref == "h-1"  # known from before
    adapter.send(message("k-3"))
    adapter.close()
    assert accepted_keys(log) == ["k-1", "k-3"]


def test_a_repeat_with_other_content_is_a_conflict(standin: StandInFactory) -> None:
    server = standin()
    adapter = hook(server.url)
    adapter.send(message("k-1"))
    adapter.send(message("k-1", body="另一段文字"))
    adapter.close()
    assert server.stats()["duplicates"] == 1 and server.stats()["conflicts"] == 1


def test_one_key_sent_from_many_threads_at_once_is_logged_once(
    standin: StandInFactory, tmp_path: Path
) -> None:
    server = standin()
    adapter = hook(server.url)
    refs: list[str | None] = []
    start = threading.Barrier(8)

    def send() -> None:
        start.wait()
        refs.append(adapter.send(message("k-same")).provider_ref)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    adapter.close()
    assert len(set(refs)) == 1 and len(refs) == 8
    assert accepted_keys(tmp_path / "accept.log") == ["k-same"]
    assert server.stats()["accepted"] == 1 and server.stats()["duplicates"] == 7
