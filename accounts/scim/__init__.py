"""SCIM 2.0 provisioning (RFC 7643 / 7644) at /scim/v2/: the company's identity provider (Entra ID, Okta, ...)
creates, updates and deactivates accounts and pushes groups, which give Parley roles by configuration
(PARLEY_SCIM_ROLE_GROUPS). Authenticated by a ScimToken IT issues in admin. Every account write goes through
accounts.directory, the directory's one door. The subset served and why it is hand-written: docs/directory.md, SCIM.

protocol.py parses requests (bodies, PATCH operations, filters, paging) without touching the database;
resources.py renders resources and the discovery documents; selectors.py reads; services.py writes; views.py is
the HTTP transport and the one place errors become SCIM error responses.
"""
