"""A real OpenID Connect provider for the single sign-on tests: django-oauth-toolkit in a tiny Django project of
its own (SQLite in a temporary directory, an RSA key made at start, one registered client, a few people whose
claims carry roles), run as a separate process on a loopback port (process.py starts it).

What the tests need to know about it lives here, free of Django imports, so the test process can read it.
"""

CLIENT_ID = "parley"
CLIENT_SECRET = "parley-client-secret"  # a throwaway provider's test client
PASSWORD = "provider-password-1"
# The redirect URI registered for Parley: a loopback address, so any port is accepted (RFC 8252, section 7.3).
REDIRECT_URI = "http://127.0.0.1/accounts/oidc/callback/"
# username -> (email, full name, the groups its `roles` claim lists)
PEOPLE = {
    "olivia": ("olivia@acme.test", "Olivia Ortiz", ["sales"]),
    "ivan": ("ivan@acme.test", "Ivan Ito", ["sales", "parley-it"]),
    "carla": ("carla@acme.test", "Carla Cruz", ["parley-compliance"]),
}
# How Parley maps those roles (PARLEY_OIDC_ROLE_VALUES).
ROLE_VALUES = "IT Admins=parley-it;Compliance Officers=parley-compliance"
