"""Every write about people, one function each, split by subject: presence choices, contacts, profiles, API
tokens, SCIM tokens, accounts, sessions, two-factor sign-in, privileges. Callers use them as `services.<name>`."""

from accounts.services.api_tokens import api_token_create, api_token_revoke, api_token_use, api_tokens_revoke_all
from accounts.services.contacts import (
    DEFAULT_CONTACT_GROUP,
    MAX_CONTACT_GROUP_NAME,
    contact_add,
    contact_group_delete,
    contact_group_rename,
    contact_remove,
)
from accounts.services.deactivation import user_deactivate, user_reactivate, user_sign_out_everywhere
from accounts.services.notifications import (
    digest_unsubscribe_token,
    email_digest_set,
    email_digest_unsubscribe,
    push_subscription_delete,
    push_subscription_save,
)
from accounts.services.presence import MAX_STATUS_MESSAGE_LENGTH, presence_choose, user_last_seen_mark
from accounts.services.privileges import (
    account_reset_check,
    admin_membership_check,
    privilege_changes,
    privileges_change_check,
)
from accounts.services.profiles import AVATAR_SIZE, MAX_AVATAR_UPLOAD_BYTES, PROFILE_FIELDS, avatar_set, profile_update
from accounts.services.scim_tokens import scim_token_issue, scim_token_revoke, scim_token_use
from accounts.services.sessions import (
    MAX_USER_AGENT_LENGTH,
    password_change_from_session,
    session_end,
    session_key_changed,
    sessions_end_for_new_password,
    sessions_end_others,
    sign_in_ended,
    sign_in_record,
    sign_in_unlock,
    signed_out_everywhere,
)
from accounts.services.two_factor import (
    AUTHENTICATOR_NAME,
    BACKUP_CODE_COUNT,
    BACKUP_CODES_NAME,
    backup_codes_renew,
    new_backup_code,
    two_factor_enrol_confirm,
    two_factor_enrol_start,
    two_factor_remove,
    two_factor_reset,
    two_factor_verify,
)

__all__ = [
    "AUTHENTICATOR_NAME",
    "AVATAR_SIZE",
    "BACKUP_CODES_NAME",
    "BACKUP_CODE_COUNT",
    "DEFAULT_CONTACT_GROUP",
    "MAX_AVATAR_UPLOAD_BYTES",
    "MAX_CONTACT_GROUP_NAME",
    "MAX_STATUS_MESSAGE_LENGTH",
    "MAX_USER_AGENT_LENGTH",
    "PROFILE_FIELDS",
    "account_reset_check",
    "admin_membership_check",
    "api_token_create",
    "api_token_revoke",
    "api_token_use",
    "api_tokens_revoke_all",
    "avatar_set",
    "backup_codes_renew",
    "contact_add",
    "contact_group_delete",
    "contact_group_rename",
    "contact_remove",
    "digest_unsubscribe_token",
    "email_digest_set",
    "email_digest_unsubscribe",
    "new_backup_code",
    "password_change_from_session",
    "presence_choose",
    "privilege_changes",
    "privileges_change_check",
    "profile_update",
    "push_subscription_delete",
    "push_subscription_save",
    "scim_token_issue",
    "scim_token_revoke",
    "scim_token_use",
    "session_end",
    "session_key_changed",
    "sessions_end_for_new_password",
    "sessions_end_others",
    "sign_in_ended",
    "sign_in_record",
    "sign_in_unlock",
    "signed_out_everywhere",
    "two_factor_enrol_confirm",
    "two_factor_enrol_start",
    "two_factor_remove",
    "two_factor_reset",
    "two_factor_verify",
    "user_deactivate",
    "user_last_seen_mark",
    "user_reactivate",
    "user_sign_out_everywhere",
]
