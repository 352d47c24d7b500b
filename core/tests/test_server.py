"""What `make run` serves: daphne with the project's ASGI application, as a real process."""

import urllib.request

import pytest

from core.testing import start_daphne_worker

pytestmark = pytest.mark.django_db(transaction=True)


def test_daphne_serves_the_login_page_and_a_healthy_healthz(tmp_path):
    worker = start_daphne_worker(tmp_path)
    try:
        with urllib.request.urlopen(f"{worker.http_url}/accounts/login/", timeout=10) as response:  # noqa: S310
            login_page = response.read().decode()
        with urllib.request.urlopen(f"{worker.http_url}/healthz", timeout=10) as response:  # noqa: S310
            health_status = response.status
        with urllib.request.urlopen(f"{worker.http_url}/static/css/parley.css", timeout=10) as response:  # noqa: S310
            stylesheet_status = response.status
    finally:
        worker.stop()

    assert 'name="password"' in login_page
    assert health_status == 200
    assert stylesheet_status == 200
