"""The claims the test provider vouches for: a username, e-mail and name, and `roles` from the person's groups."""

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
