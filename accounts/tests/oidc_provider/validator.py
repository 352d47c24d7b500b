"""The claims the test provider vouches for: a username, e-mail and name, and `roles` from the person's groups;
and in the ID token a session id (`sid`), as providers that offer back-channel logout send."""

import secrets

from oauth2_provider.oauth2_validators import OAuth2Validator


class ClaimsValidator(OAuth2Validator):
    oidc_claim_scope = None  # every claim below in the ID token and userinfo, whatever the scopes

    def get_additional_claims(self, request):
        user = request.user
        return {
            "preferred_username": user.username,
            "email": user.email,
            "name": user.get_full_name(),
            "roles": sorted(user.groups.values_list("name", flat=True)),
        }

    def get_id_token_dictionary(self, token, token_handler, request):
        claims, expiration_time = super().get_id_token_dictionary(token, token_handler, request)
        # A real provider names its own session with the person (one per browser); each sign-in is one here.
        claims["sid"] = secrets.token_hex(8)
        return claims, expiration_time
