"""/scim/v2/ (included under the "scim" namespace by config/urls.py). Resource names are case-sensitive in
RFC 7644, but providers agree on these spellings."""

from django.urls import path, re_path

from accounts.scim import views

app_name = "scim"

urlpatterns = [
    path("", views.unknown, name="root"),
    path("Users", views.users, name="users"),
    path("Users/<str:scim_id>", views.user, name="user"),
    path("Groups", views.groups, name="groups"),
    path("Groups/<str:scim_id>", views.group, name="group"),
    path("ServiceProviderConfig", views.service_provider_config, name="service_provider_config"),
    path("ResourceTypes", views.resource_types, name="resource_types"),
    path("ResourceTypes/<str:name>", views.resource_types, name="resource_type"),
    path("Schemas", views.schemas, name="schemas"),
    path("Schemas/<str:name>", views.schemas, name="schema"),
    re_path(r"^(?P<rest>.+)$", views.unknown),
]
