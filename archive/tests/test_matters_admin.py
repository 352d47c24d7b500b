"""Matters in the desk (archive.matters_admin): saved from the review screen, rerun, tagged from the result list,
held in one step; only Compliance Officers and superusers reach any of it."""

import pytest
from auditlog.models import LogEntry
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from accounts.tests.factories import UserFactory
from archive.matters import matter_create, matter_tag
from archive.models import ArchiveEntry, LegalHold, Matter, MatterTag
from archive.selectors import ArchiveSearch
from core.testing import signed_in_client, staff_in
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db

REVIEW = "admin:archive_archiveentry_review"


@pytest.fixture
def officer():
    return staff_in(roles.COMPLIANCE_OFFICERS, "olga")


@pytest.fixture
def officer_client(officer):
    return signed_in_client(officer)


@pytest.fixture
def desk(alice, bob):
    room = room_with(alice, bob, name="desk")
    send(alice, room, "The merger closes Friday")
    send(bob, room, "lunch at noon")
    return room


@pytest.fixture
def matter(officer, desk):
    return matter_create(by=officer, name="SEC inquiry 24-117", search=ArchiveSearch(words="merger"))


def merger_entry() -> ArchiveEntry:
    return ArchiveEntry.objects.filter(event_type="message_sent").order_by("pk").first()


def accesses(action: str):
    return LogEntry.objects.filter(action=LogEntry.Action.ACCESS, additional_data__archive_access=action)


def urls(matter_pk: int) -> list[tuple[str, str]]:
    return [
        ("get", reverse("admin:archive_matter_changelist")),
        ("get", reverse("admin:archive_matter_change", args=[matter_pk])),
        ("post", reverse("admin:archive_matter_change", args=[matter_pk])),
        ("post", reverse("admin:archive_matter_save_search")),
        ("get", reverse("admin:archive_matter_rerun", args=[matter_pk])),
        ("post", reverse("admin:archive_matter_tags", args=[matter_pk])),
        ("post", reverse("admin:archive_matter_hold", args=[matter_pk])),
        ("post", reverse("admin:archive_matter_close", args=[matter_pk])),
        ("get", f"{reverse(REVIEW)}?words=merger&matter={matter_pk}"),
    ]


def call(client: Client, method: str, url: str):
    """GET as the link is (its own query), POST with a form that would otherwise do something."""
    if method == "get":
        return client.get(url)
    form = {"name": "Mine", "words": "merger", "entries": [merger_entry().pk], "tag": "x", "reason": "r"}
    return client.post(url, form)


# ---- the doors --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [roles.IT_ADMINS, roles.EMPLOYEES])
def test_it_admins_and_employees_get_403_on_every_matter_url_and_see_no_menu_entry(matter, role):
    client = signed_in_client(staff_in(role, "ivy"))

    for method, url in urls(matter.pk):
        response = call(client, method, url)
        assert response.status_code == 403, url
    index = client.get(reverse("admin:index")).content.decode()
    assert "Matters" not in index
    assert Matter.objects.get().name == "SEC inquiry 24-117" and Matter.objects.get().is_open
    assert Matter.objects.count() == 1 and not MatterTag.objects.exists() and not LegalHold.objects.exists()


@pytest.mark.parametrize("who", ["anonymous", "employee without staff access"])
def test_anonymous_visitors_and_plain_employees_are_sent_to_sign_in(matter, who):
    client = Client() if who == "anonymous" else signed_in_client(UserFactory(username="eve"))

    for method, url in urls(matter.pk):
        response = call(client, method, url)
        assert response.status_code == 302 and "/login/" in response["Location"], url
    assert not MatterTag.objects.exists() and not LegalHold.objects.exists()


def test_an_it_admin_reads_no_matter_row_in_the_audit_log(matter):
    client = signed_in_client(staff_in(roles.IT_ADMINS, "ivy"))

    page = client.get(reverse("admin:auditlog_logentry_changelist")).content.decode()

    assert accesses("matter_create").exists()
    assert "SEC inquiry 24-117" not in page


# ---- an officer's day -------------------------------------------------------------------------------------


def test_an_officer_saves_the_search_on_the_review_screen_as_a_matter(officer_client, desk, alice):
    today = timezone.localdate().isoformat()
    search = {"people": "alice", "conversations": "", "since": today, "until": today, "words": "merger"}
    review = officer_client.get(reverse(REVIEW), search).content.decode()

    response = officer_client.post(
        reverse("admin:archive_matter_save_search"), {**search, "name": "SEC inquiry 24-117", "description": "Wells"}
    )

    matter = Matter.objects.get()
    assert 'id="review-save-matter"' in review and "Save as matter" in review
    assert response.status_code == 302 and f"matter={matter.pk}" in response["Location"]
    assert (matter.name, matter.description, matter.created_by.username) == ("SEC inquiry 24-117", "Wells", "olga")
    criteria = matter.criteria
    assert '"words": "merger"' in criteria and f'"people": [{alice.pk}]' in criteria


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": "Case", "people": "mallory"}, "Fix the search before saving it as a matter."),
        ({"name": "", "words": "merger"}, "Give the matter a name"),
        ({"name": "Case"}, "Narrow the search"),
    ],
)
def test_a_bad_save_as_matter_says_why_and_saves_nothing(officer_client, desk, form, message):
    response = officer_client.post(reverse("admin:archive_matter_save_search"), form, follow=True)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Matter.objects.exists()


def test_rerun_opens_the_review_screen_with_the_saved_search_and_tag_boxes(officer_client, matter):
    response = officer_client.get(reverse("admin:archive_matter_rerun", args=[matter.pk]), follow=True)

    text = response.content.decode()
    assert response.status_code == 200
    assert "The <mark>merger</mark> closes Friday" in text and "lunch at noon" not in text
    assert 'id="review-matter"' in text and 'form="matter-tags"' in text and "Tag the chosen results" in text
    assert accesses("search").get().additional_data["matter"] == matter.pk


def test_an_officer_tags_results_from_the_list_in_bulk_and_comes_back_to_it(officer_client, matter):
    back = f"{reverse(REVIEW)}?words=merger&matter={matter.pk}"
    entries = list(ArchiveEntry.objects.filter(event_type="message_sent").values_list("pk", flat=True))

    response = officer_client.post(
        reverse("admin:archive_matter_tags", args=[matter.pk]),
        {"entries": entries, "tag": "responsive", "action": "tag", "next": back},
    )
    again = officer_client.get(back).content.decode()

    assert response.status_code == 302 and response["Location"] == back
    assert MatterTag.objects.filter(matter=matter, tag="responsive").count() == 2
    assert '<td class="tags">responsive</td>' in again
    assert accesses("matter_tag").get().additional_data["entries"] == sorted(entries)


def test_an_officer_untags_from_the_matter_page(officer_client, officer, matter):
    entry = merger_entry()
    matter_tag(matter=matter, by=officer, entry_ids=[entry.pk], tag="responsive")

    response = officer_client.post(
        reverse("admin:archive_matter_tags", args=[matter.pk]),
        {"entries": [entry.pk], "tag": "responsive", "action": "untag", "next": "https://evil.example/"},
    )

    assert MatterTag.objects.get().removed_by == officer
    assert response["Location"] == reverse("admin:archive_matter_change", args=[matter.pk])  # not elsewhere


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"entries": ["ENTRY"], "tag": "<b>"}, "A tag has at most 40 characters"),
        ({"entries": [], "tag": "responsive"}, "Choose at least one entry."),
        ({"entries": ["abc", "99999999999999999999999"], "tag": "responsive"}, "Choose at least one entry."),
        ({"entries": ["987654"], "tag": "responsive"}, "No archive entry 987654."),
    ],
)
def test_a_bad_tag_or_entry_says_why_and_tags_nothing(officer_client, matter, form, message):
    form["entries"] = [str(merger_entry().pk) if value == "ENTRY" else value for value in form["entries"]]

    response = officer_client.post(reverse("admin:archive_matter_tags", args=[matter.pk]), form, follow=True)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not MatterTag.objects.exists()


def test_the_matter_page_shows_its_search_tagged_entries_and_holds_and_is_audit_logged(officer_client, officer, matter):
    matter_tag(matter=matter, by=officer, entry_ids=[merger_entry().pk], tag="privileged")

    response = officer_client.get(reverse("admin:archive_matter_change", args=[matter.pk]))

    text = response.content.decode()
    assert response.status_code == 200
    assert "The merger closes Friday" in text and "#desk" in text and '<td class="tags">privileged</td>' in text
    assert "Put under legal hold" in text and "Close this matter" in text and "merger" in text
    assert accesses("matter_view").get().additional_data == {
        "archive_access": "matter_view",
        "shown": 1,
        "tagged": 1,
    }


def test_put_under_legal_hold_in_one_step_from_the_matter_page(officer_client, matter, desk):
    response = officer_client.post(
        reverse("admin:archive_matter_hold", args=[matter.pk]), {"reason": "Subpoena"}, follow=True
    )

    hold = LegalHold.objects.get()
    assert response.status_code == 200
    assert "Legal hold “SEC inquiry 24-117” opened: 0 people and 1 conversation." in response.content.decode()
    assert list(hold.rooms.all()) == [desk] and hold.reason == "Subpoena"
    assert list(matter.holds.all()) == [hold]
    listed = officer_client.get(reverse("admin:archive_matter_changelist")).content.decode()
    assert "held (1 open)" in listed and "rerun" in listed


def test_the_matters_list_shows_rerun_hold_state_and_tag_counts_in_the_menu(officer_client, officer, matter):
    matter_tag(matter=matter, by=officer, entry_ids=[merger_entry().pk], tag="responsive")

    index = officer_client.get(reverse("admin:index")).content.decode()
    listed = officer_client.get(reverse("admin:archive_matter_changelist")).content.decode()

    assert "Matters" in index
    assert "SEC inquiry 24-117" in listed and "1 on 1 entry" in listed and ">none<" in listed
    assert reverse("admin:archive_matter_rerun", args=[matter.pk]) in listed


def test_closing_a_matter_from_its_page_stops_tagging(officer_client, matter):
    officer_client.post(reverse("admin:archive_matter_close", args=[matter.pk]))

    response = officer_client.post(
        reverse("admin:archive_matter_tags", args=[matter.pk]),
        {"entries": [merger_entry().pk], "tag": "late"},
        follow=True,
    )

    assert Matter.objects.get().closed_at is not None
    assert "is closed" in response.content.decode() and not MatterTag.objects.exists()


def test_unknown_matters_are_not_found_and_wrong_methods_refused(officer_client, matter):
    missing = matter.pk + 1000

    change = reverse("admin:archive_matter_change", args=[missing])
    for method, url in urls(missing)[1:]:
        if "from-search" in url:
            continue
        response = call(officer_client, method, url)
        if url == change:  # Django's own change page: back to the index, saying it does not exist
            assert response.status_code == 302 and response["Location"] == reverse("admin:index"), url
        else:
            assert response.status_code == 404, url
    garbage = officer_client.get(f"{reverse(REVIEW)}?words=merger&matter=abc")
    wrong = officer_client.get(reverse("admin:archive_matter_tags", args=[matter.pk]))

    assert garbage.status_code == 404 and wrong.status_code == 405
    assert not MatterTag.objects.exists() and not LegalHold.objects.exists()


def test_matters_cannot_be_added_blank_or_deleted_in_the_admin(officer_client, matter):
    add = officer_client.get(reverse("admin:archive_matter_add"))
    delete = officer_client.post(reverse("admin:archive_matter_delete", args=[matter.pk]), {"post": "yes"})

    assert add.status_code == 403 and delete.status_code == 403
    assert Matter.objects.filter(pk=matter.pk).exists()
