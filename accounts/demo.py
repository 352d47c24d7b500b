"""The demo company `make run` seeds on a fresh machine, so there is someone to chat with."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.db import transaction

from accounts import roles
from accounts.models import User

# username, first name, last name, department, job title
DEMO_EMPLOYEES = (
    ("alice", "Alice", "Archer", "Sales", "Account Executive"),
    ("bob", "Bob", "Bauer", "Sales", "Sales Manager"),
    ("carol", "Carol", "Chen", "Engineering", "Staff Engineer"),
    ("dave", "Dave", "Dumont", "Engineering", "Backend Engineer"),
    ("erin", "Erin", "Evans", "Engineering", "Frontend Engineer"),
    ("frank", "Frank", "Fischer", "Finance", "Controller"),
    ("grace", "Grace", "Gupta", "Finance", "Analyst"),
    ("heidi", "Heidi", "Hansen", "Operations", "Office Manager"),
    ("ivan", "Ivan", "Ivanov", "Operations", "Facilities Lead"),
    ("judy", "Judy", "Jones", "Trading", "Trader"),
    ("mallory", "Mallory", "Moreau", "Trading", "Head of Desk"),
    ("niaj", "Niaj", "Nakamura", "Trading", "Trader"),
)
# username, first name, last name, department, job title, role or None for a superuser
DEMO_STAFF = (
    ("admin", "Ada", "Admin", "IT", "Administrator", None),
    ("itadmin", "Ian", "Tech", "IT", "IT Administrator", roles.IT_ADMINS),
    ("compliance", "Connie", "Rule", "Compliance", "Compliance Officer", roles.COMPLIANCE_OFFICERS),
)


@dataclass(frozen=True)
class DemoLogins:
    usernames: list[str]
    password: str


def demo_company_seed(*, password: str | None = None) -> DemoLogins:
    """Create the demo users, all sharing one password (generated unless given), in one transaction."""
    password = password or secrets.token_urlsafe(9)
    employees = roles.role_group(roles.EMPLOYEES)
    created = []
    with transaction.atomic():
        for username, first, last, department, title in DEMO_EMPLOYEES:
            user = _demo_user(username, first, last, department, title, password)
            user.groups.add(employees)
            created.append(username)
        for username, first, last, department, title, role in DEMO_STAFF:
            user = _demo_user(username, first, last, department, title, password)
            if role is None:
                user.is_staff = user.is_superuser = True
            else:
                user.is_staff = True
                user.groups.add(roles.role_group(role))
            user.save(update_fields=["is_staff", "is_superuser"])
            created.append(username)
    return DemoLogins(usernames=created, password=password)


def _demo_user(username: str, first: str, last: str, department: str, title: str, password: str) -> User:
    return User.objects.create_user(
        username=username,
        password=password,
        email=f"{username}@parley.example",
        first_name=first,
        last_name=last,
        display_name=f"{first} {last}",
        department=department,
        job_title=title,
    )
