"""Fixtures shared by the single sign-on tests (test_oidc.py, test_oidc_backchannel_logout.py)."""

import pytest
from django.conf import settings
from django.test import override_settings

from accounts.tests.oidc_provider.process import start_identity_provider


@pytest.fixture(scope="module")
def identity_provider(tmp_path_factory):
    """The test identity provider (oidc_provider/), a real django-oauth-toolkit process, for one test module."""
    provider = start_identity_provider(tmp_path_factory.mktemp("oidc"))
    yield provider
    provider.stop()


@pytest.fixture
def sso(identity_provider):
    """Parley configured for the provider, as the PARLEY_OIDC_* variables would configure it."""
    backends = [*settings.AUTHENTICATION_BACKENDS, "accounts.oidc.ParleyOIDCBackend"]
    with override_settings(AUTHENTICATION_BACKENDS=backends, **identity_provider.parley_settings()):
        yield identity_provider
