"""The client's address: believed from a proxy header only when the operator says so."""

import pytest
from django.test import RequestFactory

from core.net import client_ip


def request_from(remote_addr: str, **headers):
    return RequestFactory().get("/", REMOTE_ADDR=remote_addr, **headers)


def test_without_a_trusted_header_the_socket_peer_is_the_client(settings):
    settings.PARLEY_TRUSTED_PROXY_HEADER = ""

    assert client_ip(request_from("10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.9")) == "10.0.0.5"


@pytest.mark.parametrize(
    ("forwarded", "proxies", "expected"),
    [
        ("203.0.113.9", 1, "203.0.113.9"),
        ("1.1.1.1, 203.0.113.9", 1, "203.0.113.9"),  # the client claimed 1.1.1.1; our proxy saw 203.0.113.9
        ("1.1.1.1, 203.0.113.9, 10.0.0.7", 2, "203.0.113.9"),  # two proxies of ours appended
        ("2001:db8::1", 1, "2001:db8::1"),
        ("not-an-address", 1, "10.0.0.5"),  # garbage falls back to the peer
        ("", 1, "10.0.0.5"),
        ("203.0.113.9", 2, "10.0.0.5"),  # fewer entries than our proxies: someone bypassed one
    ],
)
def test_a_trusted_header_gives_the_address_our_proxies_saw(settings, forwarded, proxies, expected):
    settings.PARLEY_TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    settings.PARLEY_TRUSTED_PROXY_COUNT = proxies

    assert client_ip(request_from("10.0.0.5", HTTP_X_FORWARDED_FOR=forwarded)) == expected


def test_a_single_value_header_like_x_real_ip_works_too(settings):
    settings.PARLEY_TRUSTED_PROXY_HEADER = "X-Real-IP"

    assert client_ip(request_from("10.0.0.5", HTTP_X_REAL_IP="198.51.100.4")) == "198.51.100.4"
