from django.urls import path

from accounts import sign_in_views, views

urlpatterns = [
    # Before django.contrib.auth.urls, so this login page (with the company sign-in) wins.
    path("login/", sign_in_views.SignInView.as_view(), name="login"),
    path("oidc/start/", sign_in_views.OIDCSignInStart.as_view(), name="oidc_sign_in"),
    path("oidc/callback/", sign_in_views.oidc_callback, name="oidc_callback"),
    path("oidc/backchannel-logout/", sign_in_views.oidc_backchannel_logout, name="oidc_backchannel_logout"),
    path("security/", views.security, name="account_security"),
    path("security/my-data.zip", views.own_data_download, name="own_data_download"),
    path("two-factor/setup/", views.two_factor_setup, name="two_factor_setup"),
    path("two-factor/verify/", views.two_factor_verify, name="two_factor_verify"),
    path("two-factor/remove/", views.two_factor_remove, name="two_factor_remove"),
    path("two-factor/backup-codes/", views.backup_codes_renew, name="backup_codes_renew"),
    path("sessions/<int:sign_in_id>/sign-out/", views.session_sign_out, name="session_sign_out"),
    path("email-digest/", views.email_digest_set, name="email_digest_set"),
    path("email-digest/unsubscribe/<str:token>/", views.digest_unsubscribe, name="digest_unsubscribe"),
    path("sessions/sign-out-others/", views.sessions_sign_out_others, name="sessions_sign_out_others"),
    # Before django.contrib.auth.urls, so this one (which also signs out other sessions) wins.
    path("password_change/", views.PasswordChange.as_view(), name="password_change"),
]
