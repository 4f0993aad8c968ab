"""``GET /metrics``: the outbox's figures in Prometheus' text format
(:mod:`forbear.services.outreach.counts`: counts by channel and status, the oldest due
message, the latest completed daily run). Counts and times only: no personal data.

**Who may read it.** The web app faces borrowers and the internet; its metrics do not.
``/metrics`` answers only a request made from the machine itself (the socket's peer is a
loopback address) that did not come through a proxy: no ``X-Forwarded-For``,
``Forwarded`` or ``X-Real-IP`` header, and the peer is not one of
``Settings.trusted_proxies``. Anything else gets 404, as if there were no such page, so a
reverse proxy on the same machine never exposes it. Scrape it with a Prometheus agent on
the same machine, or scrape ``forbear worker --metrics-port`` (bound to 127.0.0.1 by
default) instead (docs/outreach.md).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from forbear.services.outreach.counts import outbox_figures, series
from forbear.web.deps import WebState, state_of

log = logging.getLogger("forbear.web.metrics")
router = APIRouter()
PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


class OutboxCollector(Collector):
    """Reads the figures on each scrape, on a read-only snapshot, at the app's clock."""

    def __init__(self, web: WebState) -> None:
        self.web = web

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("forbear_outbox_up", "Whether the outbox figures could be read")
        try:
            with self.web.forbear.reading() as conn:
                found = outbox_figures(conn, self.web.now(), self.web.today())
        except Exception as exc:  # a scrape reports the database down, never a 500
            log.warning("outbox figures unavailable: %s", type(exc).__name__)
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        for s in series(found):
            family = GaugeMetricFamily(s.name, s.help, labels=list(s.labels) or None)
            for labels, value in s.samples:
                family.add_metric(list(labels), value)
            yield family


def local_unproxied(request: Request, web: WebState) -> bool:
    """Whether ``request`` came from this machine, directly (see the module docstring)."""
    if any(request.headers.get(h) for h in PROXY_HEADERS):
        return False
    peer = request.client.host if request.client is not None else None
    try:
        address = ipaddress.ip_address(peer or "")
    except ValueError:
        return False
    trusted = web.forbear.settings.trusted_proxy_networks
    if any(address.version == net.version and address in net for net in trusted):
        return False
    return address.is_loopback


def registry_of(request: Request, web: WebState) -> CollectorRegistry:
    """The app's registry (one per app, made on first use; not the process-wide one)."""
    registry: CollectorRegistry | None = getattr(request.app.state, "metrics_registry", None)
    if registry is None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(OutboxCollector(web))
        request.app.state.metrics_registry = registry
    return registry


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    web = state_of(request)
    if not local_unproxied(request, web):
        return PlainTextResponse("Not Found", status_code=404)
    body = generate_latest(registry_of(request, web))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
