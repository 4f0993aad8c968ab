"""Static files are compressed and cached (issue 15, item 10); pages stay no-store."""

from __future__ import annotations

import re


def test_static_files_are_gzipped_and_cached_by_content_hash(client, sign_in) -> None:  # type: ignore[no-untyped-def]
    page = sign_in("agent1").get("/workbench")
    assert page.headers["cache-control"] == "no-store"
    assert "plotly" not in page.text
    found = re.search(r'href="(/static/forbear\.css\?v=[0-9a-f]{12})"', page.text)
    assert found is not None
    css = client.get(found.group(1), headers={"accept-encoding": "gzip"})
    assert css.status_code == 200 and css.headers["content-encoding"] == "gzip"
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
    plain = client.get("/static/forbear.css")
    assert plain.headers["cache-control"] == "public, max-age=3600, must-revalidate"
    assert "etag" in plain.headers
    again = client.get("/static/forbear.css", headers={"if-none-match": plain.headers["etag"]})
    assert again.status_code == 304


def test_plotly_is_served_compressed_once_and_revalidated(client) -> None:  # type: ignore[no-untyped-def]
    js = client.get("/static/vendor/plotly.min.js", headers={"accept-encoding": "gzip"})
    assert js.status_code == 200 and js.headers["content-encoding"] == "gzip"
    assert int(js.headers["content-length"]) < 2_000_000  # 4.8 MB uncompressed
    assert len(js.content) > 4_000_000  # the client decompressed it
    again = client.get(
        "/static/vendor/plotly.min.js", headers={"if-none-match": js.headers["etag"]}
    )
    assert again.status_code == 304
    raw = client.get("/static/vendor/plotly.min.js", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in raw.headers and len(raw.content) > 4_000_000
