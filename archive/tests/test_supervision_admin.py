"""The supervision desk in the admin (archive.supervision_admin): only compliance reaches it; the queue filters,
opens items in context, takes single and bulk decisions and exports them."""

import csv
import io
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from accounts.tests.factories import UserFactory
from archive.models import Lexicon, SupervisionDecision, SupervisionItem
from archive.supervision import supervision_step
from core.testing import signed_in_client, staff_in
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer():
    return staff_in(roles.COMPLIANCE_OFFICERS, "olga")


@pytest.fixture
def officer_client(officer):
    return signed_in_client(officer)


@pytest.fixture
def queue():
    """Two flagged messages in #desk, one by alice (high risk), one by bob (low risk)."""
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    Lexicon.objects.create(name="promises", words="guarantee", risk="high")
    low = Lexicon.objects.create(name="chatter", words="lunch", risk="low")
    low.people.set([bob])
    room = room_with(alice, bob, name="desk")
    send(alice, room, "I guarantee the price")
    send(bob, room, "lunch?")
    supervision_step()
    return {item.lexicon.name: item for item in SupervisionItem.objects.select_related("lexicon")}


def urls(item_pk: int) -> list[tuple[str, str]]:
    return [
        ("get", reverse("admin:archive_lexicon_changelist")),
        ("get", reverse("admin:archive_lexicon_add")),
        ("get", reverse("admin:archive_samplingrule_changelist")),
        ("get", reverse("admin:archive_supervisionitem_changelist")),
        ("get", reverse("admin:archive_supervisionitem_change", args=[item_pk])),
        ("post", reverse("admin:archive_supervisionitem_decide")),
        ("get", reverse("admin:archive_supervisiondecision_changelist")),
        ("get", reverse("admin:archive_supervisiondecision_export")),
    ]


@pytest.mark.parametrize("role", [roles.IT_ADMINS, roles.EMPLOYEES])
def test_it_admins_and_employees_get_403_on_every_supervision_url_and_see_no_menu_entry(queue, role):
    client = signed_in_client(staff_in(role, "ivy"))
    item = queue["promises"]

    for method, url in urls(item.pk):
        response = getattr(client, method)(url, {"items": [item.pk], "outcome": "reviewed", "comment": "x"})
        assert response.status_code == 403, url
    index = client.get(reverse("admin:index")).content.decode()
    assert "Lexicons" not in index and "Supervision items" not in index and "Supervision decisions" not in index
    assert not SupervisionDecision.objects.exists()


def test_an_employee_without_staff_access_never_sees_the_desk(queue):
    client = signed_in_client(UserFactory(username="eve"))

    response = client.get(reverse("admin:archive_supervisionitem_changelist"))

    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_compliance_officer_sees_the_desk_in_the_menu_and_the_queue(officer_client, queue):
    index = officer_client.get(reverse("admin:index")).content.decode()
    page = officer_client.get(reverse("admin:archive_supervisionitem_changelist"))

    text = page.content.decode()
    assert "Lexicons" in index and "Supervision items" in index and "Supervision decisions" in index
    assert page.status_code == 200
    assert "lexicon promises" in text and "guarantee" in text and "#desk" in text and "alice" in text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"risk": "high"}, {"promises"}),
        ({"lexicon__id__exact": "LEXICON"}, {"chatter"}),
        ({"person": "BOB"}, {"chatter"}),
        ({"group": "GROUP"}, {"promises"}),
        ({"state": "open"}, {"promises", "chatter"}),
        ({"state": "reviewed"}, set()),
        ({"occurred_at__year": "YEAR", "occurred_at__month": "MONTH"}, {"promises", "chatter"}),
        ({"occurred_at__year": "1999"}, set()),
    ],
)
def test_the_queue_filters_by_risk_lexicon_person_group_state_and_date(officer_client, queue, query, expected):
    alice = UserFactory._meta.model.objects.get(username="alice")
    traders = roles.role_group(roles.EMPLOYEES)
    alice.groups.add(traders)
    values = {
        "LEXICON": str(queue["chatter"].lexicon_id),
        "BOB": str(queue["chatter"].actor_id),
        "GROUP": str(traders.pk),
        "YEAR": str(timezone.localdate().year),
        "MONTH": str(timezone.localdate().month),
    }
    query = {key: values.get(value, value) for key, value in query.items()}

    page = officer_client.get(reverse("admin:archive_supervisionitem_changelist"), query)

    text = page.content.decode()
    assert page.status_code == 200
    assert {name for name in ("promises", "chatter") if f"lexicon {name}" in text} == expected


def test_overdue_items_are_marked_and_filtered(officer_client, queue, settings):
    settings.PARLEY_SUPERVISION_REVIEW_DAYS = 2
    SupervisionItem.objects.filter(pk=queue["promises"].pk).update(flagged_at=timezone.now() - timedelta(days=3))

    page = officer_client.get(reverse("admin:archive_supervisionitem_changelist"), {"state": "overdue"})

    text = page.content.decode()
    assert "lexicon promises" in text and "lexicon chatter" not in text
    assert 'class="overdue"' in text


def test_an_item_opens_with_its_text_a_link_to_its_conversation_and_the_look_is_audit_logged(officer_client, queue):
    item = queue["promises"]

    page = officer_client.get(reverse("admin:archive_supervisionitem_change", args=[item.pk]))

    text = page.content.decode()
    day = timezone.localdate().isoformat()
    assert page.status_code == 200
    assert "I guarantee the price" in text
    assert (
        f"{reverse('admin:archive_archiveentry_review')}?conversations={item.conversation_id}&amp;since={day}" in text
    )
    assert 'id="supervision-decide"' in text
    logged = LogEntry.objects.get(additional_data__archive_access="supervision_item_view")
    assert logged.object_pk == str(item.pk)
    context = officer_client.get(
        reverse("admin:archive_archiveentry_review"), {"conversations": item.conversation_id, "since": day}
    )
    assert "I guarantee the price" in context.content.decode() and "lunch?" in context.content.decode()


def test_bulk_decisions_through_the_action_and_the_decide_page(officer_client, queue):
    changelist = reverse("admin:archive_supervisionitem_changelist")
    chosen = [item.pk for item in queue.values()]

    form = officer_client.post(changelist, {"action": "decide_selected", "_selected_action": chosen})
    done = officer_client.post(
        reverse("admin:archive_supervisionitem_decide"),
        {"items": chosen, "outcome": "false_positive", "comment": "ordinary talk"},
        follow=True,
    )

    assert form.status_code == 200 and 'id="decide-items"' in form.content.decode()
    assert "2 item(s) marked false positive." in done.content.decode()
    assert sorted(SupervisionDecision.objects.values_list("item_id", "outcome", "decided_by__username")) == sorted(
        (pk, "false_positive", "olga") for pk in chosen
    )


def test_an_escalation_to_a_named_officer_waits_in_their_queue(officer_client, queue):
    chief = staff_in(roles.COMPLIANCE_OFFICERS, "chief")
    item = queue["promises"]

    officer_client.post(
        reverse("admin:archive_supervisionitem_decide"),
        {"items": [item.pk], "outcome": "escalated", "escalated_to": "chief", "comment": "a promise of returns"},
    )
    chiefs_queue = signed_in_client(chief).get(reverse("admin:archive_supervisionitem_changelist"), {"escalated": "me"})
    olgas_queue = officer_client.get(reverse("admin:archive_supervisionitem_changelist"), {"escalated": "me"})

    decision = SupervisionDecision.objects.get()
    assert (decision.outcome, decision.escalated_to, decision.comment) == ("escalated", chief, "a promise of returns")
    assert "lexicon promises" in chiefs_queue.content.decode()
    assert "lexicon promises" not in olgas_queue.content.decode()


def test_looking_at_the_queue_is_audit_logged_with_its_filters(officer_client, queue):
    officer_client.get(reverse("admin:archive_supervisionitem_changelist"), {"risk": "high"})

    logged = LogEntry.objects.get(additional_data__archive_access="supervision_queue")
    assert logged.additional_data["filters"] == {"risk": "high"}


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"outcome": "escalated", "comment": "why"}, "Escalate to a named compliance officer."),
        ({"outcome": "escalated", "escalated_to": "alice", "comment": "why"}, "Select a valid choice."),
        ({"outcome": "reviewed", "comment": ""}, "This field is required."),
        ({"outcome": "bogus", "comment": "why"}, "Select a valid choice."),
        ({"items": ["x", "999999"], "outcome": "reviewed", "comment": "why"}, "Choose at least one item."),
    ],
)
def test_a_decision_missing_its_parts_is_refused_clearly_and_nothing_is_recorded(officer_client, queue, data, error):
    data = {"items": [queue["promises"].pk], **data}

    page = officer_client.post(reverse("admin:archive_supervisionitem_decide"), data)

    assert page.status_code == 200
    assert error in page.content.decode()
    assert not SupervisionDecision.objects.exists()


def test_the_decide_page_is_a_post(officer_client):
    assert officer_client.get(reverse("admin:archive_supervisionitem_decide")).status_code == 405


def test_decisions_can_be_neither_changed_nor_deleted_in_the_admin(officer_client, queue):
    officer_client.post(
        reverse("admin:archive_supervisionitem_decide"),
        {"items": [queue["promises"].pk], "outcome": "reviewed", "comment": "fine"},
    )
    decision = SupervisionDecision.objects.get()
    superuser = signed_in_client(UserFactory(username="root", is_staff=True, is_superuser=True))

    change = superuser.post(
        reverse("admin:archive_supervisiondecision_change", args=[decision.pk]), {"comment": "rewritten"}
    )
    delete = superuser.post(reverse("admin:archive_supervisiondecision_delete", args=[decision.pk]), {"post": "yes"})

    assert change.status_code == 403 and delete.status_code == 403
    assert SupervisionDecision.objects.get().comment == "fine"


def test_the_decisions_export_as_csv_and_the_export_is_audit_logged(officer_client, queue):
    officer_client.post(
        reverse("admin:archive_supervisionitem_decide"),
        {"items": [item.pk for item in queue.values()], "outcome": "reviewed", "comment": "fine"},
    )

    listing = officer_client.get(reverse("admin:archive_supervisiondecision_changelist"))
    response = officer_client.get(reverse("admin:archive_supervisiondecision_export"), {"outcome": "reviewed"})

    assert "Export as CSV" in listing.content.decode()
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(row["lexicon"] for row in rows) == ["chatter", "promises"]
    assert LogEntry.objects.get(additional_data__archive_access="supervision_export").additional_data["decisions"] == 2


@pytest.mark.parametrize("query", [{"decided_at__gte": "soon"}, {"item__lexicon__id__exact": "abc"}, {"bogus": "1"}])
def test_an_export_with_filters_that_do_not_apply_is_refused_clearly(officer_client, queue, query):
    response = officer_client.get(reverse("admin:archive_supervisiondecision_export"), query, follow=True)

    assert response.status_code == 200
    assert "Those filters do not apply to decisions: nothing was exported." in response.content.decode()
    assert not LogEntry.objects.filter(additional_data__archive_access="supervision_export").exists()


def test_a_lexicon_with_a_catastrophic_pattern_is_refused_in_the_admin(officer_client):
    response = officer_client.post(
        reverse("admin:archive_lexicon_add"), {"name": "bad", "risk": "high", "patterns": "(a+)+$", "is_active": "on"}
    )

    assert response.status_code == 200
    assert "Nested repetition" in response.content.decode()
    assert not Lexicon.objects.exists()


def test_an_officer_creates_a_lexicon_for_a_group_and_it_is_audit_logged(officer_client):
    traders = roles.role_group(roles.EMPLOYEES)

    response = officer_client.post(
        reverse("admin:archive_lexicon_add"),
        {
            "name": "promises",
            "risk": "medium",
            "words": "guarantee\nrisk-free",
            "patterns": r"\d{3}-\d{2}-\d{4}",
            "groups": [traders.pk],
            "is_active": "on",
        },
    )

    assert response.status_code == 302
    lexicon = Lexicon.objects.get()
    assert list(lexicon.groups.all()) == [traders]
    assert LogEntry.objects.get_for_object(lexicon).exists()
