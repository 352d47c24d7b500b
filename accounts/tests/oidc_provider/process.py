"""Start the test identity provider (see __init__.py) as a real `django runserver` process on a free loopback
port, and say how Parley is configured to use it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from accounts.tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, ROLE_VALUES
from core.testing import BASE_DIR, ChildProcess, free_port, wait_until_answering

SETTINGS_MODULE = "accounts.tests.oidc_provider.settings"
PROVIDER_NAME = "Acme"


@dataclass
class IdentityProvider(ChildProcess):
    issuer: str = ""
    state_dir: Path | None = None

    def signing_key(self) -> str:
        """The provider's private RSA key (PEM), made at its start (settings.py): what signs its ID tokens, and
        what a test signs a back-channel Logout Token with, since django-oauth-toolkit sends none itself."""
        return (self.state_dir / "signing-key.pem").read_text()

    def parley_environment(self) -> dict[str, str]:
        """Parley's PARLEY_OIDC_* variables for this provider (what a daphne worker is started with)."""
        return {
            "PARLEY_OIDC_CLIENT_ID": CLIENT_ID,
            "PARLEY_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "PARLEY_OIDC_ISSUER": self.issuer,
            "PARLEY_OIDC_AUTHORIZATION_ENDPOINT": f"{self.issuer}/authorize/",
            "PARLEY_OIDC_TOKEN_ENDPOINT": f"{self.issuer}/token/",
            "PARLEY_OIDC_USERINFO_ENDPOINT": f"{self.issuer}/userinfo/",
            "PARLEY_OIDC_JWKS_ENDPOINT": f"{self.issuer}/.well-known/jwks.json",
            "PARLEY_OIDC_PROVIDER_NAME": PROVIDER_NAME,
            "PARLEY_OIDC_ROLE_VALUES": ROLE_VALUES,
        }

    def parley_settings(self) -> dict[str, object]:
        """The same as Django settings, for override_settings in the test process."""
        variables = self.parley_environment()
        return {
            "PARLEY_OIDC_ENABLED": True,
            "OIDC_RP_CLIENT_ID": CLIENT_ID,
            "OIDC_RP_CLIENT_SECRET": CLIENT_SECRET,
            "PARLEY_OIDC_ISSUER": self.issuer,
            "OIDC_OP_AUTHORIZATION_ENDPOINT": variables["PARLEY_OIDC_AUTHORIZATION_ENDPOINT"],
            "OIDC_OP_TOKEN_ENDPOINT": variables["PARLEY_OIDC_TOKEN_ENDPOINT"],
            "OIDC_OP_USER_ENDPOINT": variables["PARLEY_OIDC_USERINFO_ENDPOINT"],
            "OIDC_OP_JWKS_ENDPOINT": variables["PARLEY_OIDC_JWKS_ENDPOINT"],
            "PARLEY_OIDC_PROVIDER_NAME": PROVIDER_NAME,
            "PARLEY_OIDC_ROLE_VALUES": ROLE_VALUES,
        }

    def stop(self) -> None:
        super().stop()
        print(f"---- identity provider on port {self.port}, end of its log ----\n{self.log()[-4000:]}")


def start_identity_provider(tmp_dir: Path) -> IdentityProvider:
    """Make the provider's database, start it, and wait until its discovery document answers."""
    state_dir = tmp_dir / "identity-provider"
    state_dir.mkdir(exist_ok=True)
    port = free_port()
    issuer = f"http://127.0.0.1:{port}/o"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
        "OIDC_PROVIDER_DIR": str(state_dir),
        "OIDC_PROVIDER_ISSUER": issuer,
    }
    subprocess.run(
        [sys.executable, "-m", "accounts.tests.oidc_provider.setup"],
        cwd=BASE_DIR,
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
    )
    log_path = state_dir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "django", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    provider = IdentityProvider(port=port, process=process, log_path=log_path, issuer=issuer, state_dir=state_dir)
    wait_until_answering(provider, f"{issuer}/.well-known/openid-configuration", name="the identity provider")
    return provider
