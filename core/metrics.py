"""What a worker counts for Prometheus (docs/monitoring.md), and who may read it.

Every daphne worker is its own process with its own numbers: each serves them at its own /metrics, and
Prometheus scrapes every worker (not the load balancer, which would answer for a different worker each time).
The functions below are what the hot paths call; each is one prometheus-client operation (an increment under
the library's own lock), so counting costs next to nothing beside the work counted. Names are stable: the
Grafana dashboard (deploy/grafana-dashboard.json) queries them and a test checks that they exist.
"""

from __future__ import annotations

import ipaddress
import time
from contextlib import AbstractContextManager

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

SOCKETS_OPEN = Gauge("parley_sockets_open", "WebSockets open on this worker (accepted, not yet closed).")
MESSAGES_ACCEPTED = Counter("parley_messages_accepted", "Messages stored and archived (resends not counted).")
FANOUT_SECONDS = Histogram(
    "parley_fanout_seconds",
    "Time to hand one event to the channel layer (group_send, with the hop to the event loop). A message's is "
    "sent from on_commit, so for messages this is commit to group_send done; delivery is not included.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
PRESENCE_UPDATES = Counter("parley_presence_updates", "Presence changes announced to watchers.")
CHANNEL_LAYER_ERRORS = Counter("parley_channel_layer_errors", "group_send calls that raised (Redis away, full, ...).")
PRESENCE_ERRORS = Counter("parley_presence_errors", "Presence heartbeat or sweep rounds that failed (Redis away, ...).")
REFUSED_OVERLOADED = Counter("parley_refused_overloaded", "Frames or sockets refused with `overloaded`.")
CHECKPOINT_COPY_FAILURES = Counter(
    "parley_checkpoint_copy_failures",
    "Archive checkpoints whose outside copy could not be written, or mailed to the third party (archive.outside).",
)
SCANS_IN_FLIGHT = Gauge("parley_scans_in_flight", "Uploads being scanned by clamd on this worker (and waiting).")

# What the dashboard and the tests rely on, as exposed (counters gain `_total`).
METRIC_NAMES = (
    "parley_sockets_open",
    "parley_messages_accepted_total",
    "parley_fanout_seconds",
    "parley_presence_updates_total",
    "parley_channel_layer_errors_total",
    "parley_presence_errors_total",
    "parley_refused_overloaded_total",
    "parley_scans_in_flight",
    "parley_checkpoint_copy_failures_total",
)


def socket_opened() -> None:
    SOCKETS_OPEN.inc()


def socket_closed() -> None:
    SOCKETS_OPEN.dec()


def message_accepted() -> None:
    MESSAGES_ACCEPTED.inc()


class fanout_timed:  # lower case: used like a function, `with metrics.fanout_timed():`
    """Around one group_send: observes how long it took, or counts a channel-layer error (which still raises).

    A class rather than @contextmanager: it runs on every send, and a generator-based one cost over twice as much
    (1.5 against 3.6 µs measured with timeit)."""

    __slots__ = ("started",)

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: object) -> bool:
        if kind is None:
            FANOUT_SECONDS.observe(time.perf_counter() - self.started)
        elif issubclass(kind, Exception):
            CHANNEL_LAYER_ERRORS.inc()
        return False


def presence_updated() -> None:
    PRESENCE_UPDATES.inc()


def channel_layer_error() -> None:
    """Count a channel-layer call other than group_send that failed (a socket could not join its groups)."""
    CHANNEL_LAYER_ERRORS.inc()


def presence_error() -> None:
    """Count a worker's presence heartbeat or sweep round that failed; the next round tries again."""
    PRESENCE_ERRORS.inc()


def refused_overloaded() -> None:
    """Count one refusal with the `overloaded` error (admission control calls this)."""
    REFUSED_OVERLOADED.inc()


def checkpoint_copy_failed() -> None:
    """Count a checkpoint whose outside copy failed (logged at ERROR too); `archive_checkpoint --copy-missing`
    writes missing copies later."""
    CHECKPOINT_COPY_FAILURES.inc()


def scan_in_flight() -> AbstractContextManager:
    """`with metrics.scan_in_flight():` around a scan keeps the gauge right, also when the scan raises."""
    return SCANS_IN_FLIGHT.track_inprogress()


def exposition() -> tuple[bytes, str]:
    """This worker's metrics in Prometheus' text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """PARLEY_METRICS_ALLOWED_ADDRESSES as networks; a malformed entry is a configuration error, said clearly."""
    networks = []
    for entry in settings.PARLEY_METRICS_ALLOWED_ADDRESSES:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"PARLEY_METRICS_ALLOWED_ADDRESSES: {entry!r} is not an address or network (CIDR, e.g. 10.0.0.0/8)."
            ) from None
    return networks


def may_read_metrics(address: str | None) -> bool:
    """Whether a client at `address` (core.net.client_ip's answer) may read /metrics."""
    if not address:
        return False
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:  # ::ffff:10.0.0.5 on a dual-stack socket
        ip = ip.ipv4_mapped
    return any(ip in network for network in allowed_networks())
