"""The demo company's people: a dozen employees, three staff accounts, and the buddy lists of a few of them.

messenger.demo builds the rest of the company (rooms, direct chats, a week of conversation) around them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from accounts import roles
from accounts.models import User
from accounts.services import contact_add

# username, first name, last name, department, job title, status message
DEMO_EMPLOYEES = (
    ("alice", "Alice", "Archer", "Sales", "Account Executive", "Closing Northwind"),
    ("bob", "Bob", "Bauer", "Sales", "Sales Manager", ""),
    ("carol", "Carol", "Chen", "Engineering", "Staff Engineer", ""),
    ("dave", "Dave", "Dumont", "Engineering", "Backend Engineer", "On call this week"),
    ("erin", "Erin", "Evans", "Engineering", "Frontend Engineer", ""),
    ("frank", "Frank", "Fischer", "Finance", "Controller", "Expense reports due Friday"),
    ("grace", "Grace", "Gupta", "Finance", "Analyst", ""),
    ("heidi", "Heidi", "Hansen", "Operations", "Office Manager", ""),
    ("ivan", "Ivan", "Ivanov", "Operations", "Facilities Lead", "Around the building: call my mobile"),
    ("judy", "Judy", "Jones", "Trading", "Trader", ""),
    ("mallory", "Mallory", "Moreau", "Trading", "Head of Desk", "Markets open: desk only"),
    ("niaj", "Niaj", "Nakamura", "Trading", "Trader", ""),
)
# username, first name, last name, department, job title, role or None for a superuser
DEMO_STAFF = (
    ("admin", "Ada", "Admin", "IT", "Administrator", None),
    ("itadmin", "Ian", "Tech", "IT", "IT Administrator", roles.IT_ADMINS),
    ("compliance", "Connie", "Rule", "Compliance", "Compliance Officer", roles.COMPLIANCE_OFFICERS),
)
# Buddy lists: owner -> their groups, in order, each with the people in it.
DEMO_CONTACTS = {
    "alice": {"Sales": ("bob",), "Finance": ("frank", "grace"), "Engineering": ("carol",)},
    "bob": {"My team": ("alice",), "Finance": ("frank", "grace"), "Trading": ("mallory",)},
    "carol": {"Engineering": ("dave", "erin"), "IT": ("itadmin",), "Sales": ("alice",)},
    "heidi": {"Office": ("ivan",), "Team leads": ("bob", "carol", "frank", "mallory")},
    "mallory": {"Desk": ("judy", "niaj"), "Sales": ("bob",), "Compliance": ("compliance",)},
    "judy": {"Desk": ("mallory", "niaj")},
    "niaj": {"Desk": ("mallory", "judy")},
}


@dataclass(frozen=True)
class DemoLogins:
    usernames: list[str]
    password: str


def demo_people_seed(*, password: str | None = None, joined_at: datetime | None = None) -> DemoLogins:
    """Create the demo people, all sharing one password (generated unless given), and their buddy lists, in one
    transaction. `joined_at` is their date joined (messenger.demo backdates the company by a week)."""
    password = password or secrets.token_urlsafe(9)
    # One hash for everyone: they share the password anyway, and fifteen full-strength hashes, taken in turn
    # (accounts.hashers), were most of the seed's time.
    hashed = make_password(password)
    joined_at = joined_at or timezone.now()
    employees = roles.role_group(roles.EMPLOYEES)
    created = []
    with transaction.atomic():
        for username, first, last, department, title, status in DEMO_EMPLOYEES:
            user = _demo_user(username, first, last, department, title, hashed, joined_at, status=status)
            user.groups.add(employees)
            created.append(username)
        for username, first, last, department, title, role in DEMO_STAFF:
            user = _demo_user(
                username,
                first,
                last,
                department,
                title,
                hashed,
                joined_at,
                is_staff=True,
                is_superuser=role is None,
            )
            if role is not None:
                user.groups.add(roles.role_group(role))
            created.append(username)
        owners = {user.username: user for user in User.objects.filter(username__in=DEMO_CONTACTS)}
        for owner, groups in DEMO_CONTACTS.items():
            for group_name, usernames in groups.items():
                for username in usernames:
                    contact_add(owner=owners[owner], username=username, group_name=group_name)
    return DemoLogins(usernames=created, password=password)


def _demo_user(
    username: str,
    first: str,
    last: str,
    department: str,
    title: str,
    hashed_password: str,
    joined_at: datetime,
    *,
    status: str = "",
    is_staff: bool = False,
    is_superuser: bool = False,
) -> User:
    return User.objects.create(
        username=username,
        password=hashed_password,
        email=f"{username}@parley.example",
        first_name=first,
        last_name=last,
        display_name=f"{first} {last}",
        department=department,
        job_title=title,
        status_message=status,
        is_staff=is_staff,
        is_superuser=is_superuser,
        date_joined=joined_at,
    )
