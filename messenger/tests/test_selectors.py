"""Reads for the sidebar, history and directory: right numbers, members only, a fixed number of queries."""

import pytest

from accounts.tests.factories import UserFactory
from messenger import selectors, services
from messenger.errors import NotAMember, SearchInvalid
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db


def test_conversation_list_counts_unread_and_unread_mentions_per_conversation(alice, bob):
    room = room_with(alice, bob, name="deals")
    direct = services.direct_open(user=alice, other_username="bob")
    send(alice, room, "morning")
    send(alice, room, "@bob look at this")
    send(alice, direct, "psst")
    services.read_mark(user=bob, conversation_id=room.pk, seq=1)

    listing = {item["id"]: item for item in selectors.conversation_list_for(user=bob)}

    assert (listing[room.pk]["unread"], listing[room.pk]["unread_mentions"]) == (1, 1)
    assert (listing[direct.pk]["unread"], listing[direct.pk]["unread_mentions"]) == (1, 0)
    assert {member["username"] for member in listing[direct.pk]["members"]} == {"alice", "bob"}
    assert listing[room.pk]["name"] == "deals"


def test_conversation_list_shows_only_the_users_conversations(alice, bob):
    room_with(alice, name="alice only")

    assert selectors.conversation_list_for(user=bob) == []


@pytest.mark.parametrize("conversations", [2, 20])
def test_conversation_list_costs_the_same_queries_however_many_conversations(
    alice, conversations, django_assert_num_queries
):
    for index in range(conversations):
        other = UserFactory()
        send(alice, room_with(alice, other, name=f"r{index}"))
        services.direct_open(user=alice, other_username=other.username)

    with django_assert_num_queries(2):  # memberships with counts, members of the direct chats
        listing = selectors.conversation_list_for(user=alice)

    assert len(listing) == 2 * conversations


def test_history_pages_backwards_by_seq_oldest_first(alice, bob):
    room = room_with(alice, bob)
    for index in range(1, 8):
        send(alice, room, f"m{index}")

    newest = selectors.message_history(user=bob, conversation_id=room.pk, limit=3)
    older = selectors.message_history(user=bob, conversation_id=room.pk, before_seq=newest[0]["seq"], limit=3)

    assert [m["body"] for m in newest] == ["m5", "m6", "m7"]
    assert [m["body"] for m in older] == ["m2", "m3", "m4"]


def test_history_shows_replies_reactions_and_hides_deleted_text(alice, bob):
    room = room_with(alice, bob)
    quoted = send(bob, room, "lunch?")
    reply = send(alice, room, "yes!", reply_to_id=quoted.pk)
    services.reaction_add(user=bob, message_id=reply.pk, emoji="🍕")
    services.message_delete(editor=bob, message_id=quoted.pk)

    first, second = selectors.message_history(user=alice, conversation_id=room.pk)

    assert (first["deleted"], first["body"]) == (True, None)
    assert second["reply_to"] == {
        "id": quoted.pk,
        "seq": 1,
        "sender": {"id": bob.pk, "username": "bob", "display_name": bob.display_name, "avatar": None},
        "excerpt": None,
        "deleted": True,
    }
    assert second["reactions"] == [{"emoji": "🍕", "count": 1, "user_ids": [bob.pk]}]


@pytest.mark.parametrize("page_size", [1, 7, 30, 60])
def test_history_costs_the_same_queries_whatever_the_page_size(alice, bob, django_assert_num_queries, page_size):
    room = room_with(alice, bob)
    for index in range(30):
        quoted = send(alice, room, f"m{index}", reply_to_id=None)
        services.reaction_add(user=bob, message_id=quoted.pk, emoji="👍")
        send(bob, room, f"re {index}", reply_to_id=quoted.pk)  # every other message quotes one

    # membership check, the page with senders and quoted messages, the reactions of the page
    with django_assert_num_queries(3):
        page = selectors.message_history(user=bob, conversation_id=room.pk, limit=page_size)

    assert len(page) == page_size  # a full page was read, not an empty one that would cost less


def test_history_is_for_members_only(alice, bob):
    room = room_with(alice)
    send(alice, room, "secret")

    with pytest.raises(NotAMember):
        selectors.message_history(user=bob, conversation_id=room.pk)


def test_room_directory_lists_public_rooms_and_the_private_ones_you_are_in(alice, bob):
    room_with(alice, name="announcements", is_public=True)
    room_with(alice, name="board", is_public=False)
    room_with(bob, name="bobs-private", is_public=False)

    directory = {room["name"]: room for room in selectors.room_directory(user=bob)}

    assert set(directory) == {"announcements", "bobs-private"}
    assert (directory["announcements"]["member_count"], directory["announcements"]["is_member"]) == (1, False)
    assert directory["bobs-private"]["is_member"] is True


def test_room_directory_searches_names_and_topics(alice):
    services.room_create(creator=alice, name="trading-desk", topic="fixed income", is_public=True)
    services.room_create(creator=alice, name="social", topic="lunch", is_public=True)

    assert [room["name"] for room in selectors.room_directory(user=alice, search="income")] == ["trading-desk"]


# ---- search ------------------------------------------------------------------------------------------------


@pytest.fixture
def talk(alice, bob):
    """alice and bob in #deals; carol alone in #private; one of bob's messages deleted."""
    carol = UserFactory(username="carol")
    deals = room_with(alice, bob, name="deals")
    send(alice, deals, "Quarterly numbers are in")
    send(bob, deals, "quarterly review at NOON")
    gone = send(bob, deals, "quarterly secret, deleted")
    services.message_delete(editor=bob, message_id=gone.pk)
    send(carol, room_with(carol, name="private"), "my quarterly notes")
    return deals


def bodies(result) -> list[str]:
    return [message["body"] for message in result["messages"]]


def test_search_finds_every_word_in_any_case_newest_first_in_the_users_conversations(alice, talk):
    result = selectors.message_search(user=alice, words="QUARTERLY")

    assert bodies(result) == ["quarterly review at NOON", "Quarterly numbers are in"]  # not deleted, not carol's
    assert bodies(selectors.message_search(user=alice, words="quarterly noon")) == ["quarterly review at NOON"]


def test_search_pages_on_from_where_it_stopped(alice, talk):
    first = selectors.message_search(user=alice, words="quarterly", limit=1)
    second = selectors.message_search(user=alice, words="quarterly", before_id=first["next_before"], limit=1)

    assert bodies(first) == ["quarterly review at NOON"]
    assert bodies(second) == ["Quarterly numbers are in"]


def test_search_says_there_is_no_more_when_the_last_page_is_exactly_full(alice, talk):
    whole = selectors.message_search(user=alice, words="quarterly", limit=2)

    assert len(whole["messages"]) == 2 and whole["next_before"] is None


def test_search_matches_whole_words_without_case_or_accents_not_parts_of_words(alice, bob):
    room = room_with(alice, bob)
    send(bob, room, "Le CAFÉ ouvre à midi")
    send(bob, room, "quarterly review")

    assert bodies(selectors.message_search(user=alice, words="cafe")) == ["Le CAFÉ ouvre à midi"]
    assert bodies(selectors.message_search(user=alice, words="quarter")) == []  # a word, not a substring


def test_search_checks_the_current_text_so_an_edited_away_word_no_longer_matches(alice, bob):
    room = room_with(alice, bob)
    message = send(bob, room, "budget draft attached")
    services.message_edit(editor=bob, message_id=message.pk, body="forecast final attached")

    assert bodies(selectors.message_search(user=alice, words="budget")) == []  # still in the index, checked away
    assert bodies(selectors.message_search(user=alice, words="forecast attached")) == ["forecast final attached"]


def test_search_finds_a_word_of_a_shared_files_name(alice, bob, settings):
    from messenger.files import file_share

    settings.PARLEY_CLAMD_ADDRESS = ""  # the scanner is not what this tests
    room = room_with(alice, bob)
    file_share(sender=bob, conversation_id=room.pk, client_id="f1", name="Budget-2027.xlsx", content_type="", data=b"1")

    assert [m["attachment"]["name"] for m in selectors.message_search(user=alice, words="budget")["messages"]] == [
        "Budget-2027.xlsx"
    ]


def test_search_takes_or_and_leaves_out_words_with_not_or_a_minus(alice, bob):
    room = room_with(alice, bob)
    for body in ("budget draft", "budget final", "forecast final", "lunch"):
        send(bob, room, body)

    def found(words: str) -> list[str]:
        return bodies(selectors.message_search(user=alice, words=words))

    assert found("budget OR forecast") == ["forecast final", "budget final", "budget draft"]
    assert found("budget -draft") == found("budget NOT draft") == ["budget final"]
    assert found("final OR lunch -forecast") == ["lunch", "budget final"]
    with pytest.raises(SearchInvalid):
        found("-budget")


def test_no_search_result_leaks_what_the_other_person_may_not_read(alice, bob):
    """alice and bob search the same word. Each finds it only where the chat would show it to them now."""
    carol = UserFactory(username="carol")
    shared = room_with(alice, bob, name="shared")
    send(alice, shared, "pineapple in the shared room")
    send(bob, room_with(bob, carol, name="bobs"), "pineapple in bob's room")
    send(carol, services.direct_open(user=bob, other_username="carol"), "pineapple between bob and carol")
    left = room_with(carol, alice, bob, name="left")
    send(carol, left, "pineapple before alice left")
    services.conversation_leave(user=alice, conversation_id=left.pk)
    gone = send(alice, shared, "pineapple, deleted")
    services.message_delete(editor=alice, message_id=gone.pk)
    send(carol, room_with(carol, name="carols"), "pineapple nobody else sees")

    assert bodies(selectors.message_search(user=alice, words="pineapple")) == ["pineapple in the shared room"]
    assert bodies(selectors.message_search(user=bob, words="pineapple")) == [
        "pineapple before alice left",
        "pineapple between bob and carol",
        "pineapple in bob's room",
        "pineapple in the shared room",
    ]


def test_search_finds_the_same_whether_it_starts_from_the_index_or_from_the_newest_messages(alice, talk, monkeypatch):
    from_the_index = selectors.message_search(user=alice, words="quarterly OR numbers", limit=1)
    monkeypatch.setattr(selectors, "SEARCH_INDEX_FIRST_BELOW", 1)  # every word now counts as common
    from_the_newest = selectors.message_search(user=alice, words="quarterly OR numbers", limit=1)
    rest = selectors.message_search(user=alice, words="quarterly OR numbers", before_id=from_the_newest["next_before"])

    assert from_the_newest == from_the_index
    assert bodies(from_the_newest) + bodies(rest) == ["quarterly review at NOON", "Quarterly numbers are in"]


def test_search_finds_messages_indexed_under_the_old_key_after_a_new_primary_key_is_added(alice, bob, settings):
    from core.crypto import new_key_entry

    old_key, new_key = new_key_entry("old"), new_key_entry("new")
    settings.PARLEY_ENCRYPTION_KEYS = old_key
    room = room_with(alice, bob)
    send(bob, room, "quarterly figures before")
    settings.PARLEY_ENCRYPTION_KEYS = f"{new_key},{old_key}"  # rotation begun, the index not rebuilt yet
    send(bob, room, "quarterly figures after")

    assert bodies(selectors.message_search(user=alice, words="quarterly figures")) == [
        "quarterly figures after",
        "quarterly figures before",
    ]


def test_search_in_one_conversation_requires_membership(alice, bob, talk):
    daves_room = room_with(UserFactory(username="dave"), name="elsewhere")

    assert bodies(selectors.message_search(user=bob, words="numbers", conversation_id=talk.pk)) == [
        "Quarterly numbers are in"
    ]
    with pytest.raises(NotAMember):
        selectors.message_search(user=alice, words="quarterly", conversation_id=daves_room.pk)


@pytest.mark.parametrize("rooms", [1, 6])
def test_search_costs_the_same_queries_however_many_hits_and_rooms(alice, bob, rooms, django_assert_num_queries):
    for index in range(rooms):
        room = room_with(alice, bob)
        for number in range(3):
            send(bob, room, f"quarterly item {index} {number}")

    # How often each word is used (counted up to a bound), the candidates (opened), the hits, their reactions.
    with django_assert_num_queries(2 + 3):
        result = selectors.message_search(user=alice, words="quarterly item", limit=50)

    assert len(result["messages"]) == 3 * rooms


def test_search_narrows_by_sender_room_and_day_as_slack_does(alice, bob, talk):
    from datetime import timedelta

    from django.utils import timezone

    direct = services.direct_open(user=alice, other_username="bob")
    send(bob, direct, "quarterly in private")
    today = timezone.localdate()
    yesterday, tomorrow = today - timedelta(days=1), today + timedelta(days=1)

    def found(words: str) -> list[str]:
        return bodies(selectors.message_search(user=alice, words=words))

    assert found("quarterly from:@bob") == ["quarterly in private", "quarterly review at NOON"]
    assert found("quarterly in:#deals") == ["quarterly review at NOON", "Quarterly numbers are in"]
    assert found("from:alice") == ["Quarterly numbers are in"]  # no words: everything the filters leave
    assert found(f"quarterly on:{today}") == found(f"quarterly after:{yesterday} before:{tomorrow}") != []
    assert found(f"quarterly after:{today}") == found(f"quarterly before:{today}") == []


@pytest.mark.parametrize(
    ("words", "complaint"),
    [
        ("from:nobody", "No user named 'nobody'."),
        ("in:private", "You are in no room named 'private'."),  # carol's room: alice is not in it
        ("after:yesterday", "after: takes a date like 2026-11-25, not 'yesterday'."),
        ("on:9999-12-31", "on: takes a date like 2026-11-25, not '9999-12-31'."),
        ("before:0001-01-01", "before: takes a date like 2026-11-25, not '0001-01-01'."),
        ("?! …", "Type a word to search for."),  # punctuation holds no word
        ("-budget NOT draft", "Type a word to search for, not only words to leave out."),
    ],
)
def test_a_search_filter_that_cannot_apply_says_why(alice, talk, words, complaint):
    with pytest.raises(SearchInvalid) as refused:
        selectors.message_search(user=alice, words=words)

    assert refused.value.message == complaint


def test_search_takes_quoted_phrases_and_quoted_room_names(alice, bob):
    launch = room_with(alice, bob, name="Q3 launch")
    send(bob, launch, "the numbers are in, review at noon")
    send(bob, launch, "noon review of the numbers")

    def found(words: str) -> list[str]:
        return bodies(selectors.message_search(user=alice, words=words))

    assert found('"review at noon"') == ["the numbers are in, review at noon"]
    assert found('noon in:"Q3 launch"') == ["noon review of the numbers", "the numbers are in, review at noon"]


def test_traffic_since_counts_messages_from_that_moment_and_ranks_rooms_by_them(alice, bob, django_assert_num_queries):
    from datetime import timedelta

    from django.utils import timezone

    from messenger.models import Message

    busy, quiet = room_with(alice, bob, name="busy"), room_with(alice, bob, name="quiet")
    yesterdays = [send(alice, quiet, f"old {n}") for n in range(5)]
    Message.objects.filter(pk__in=[message.pk for message in yesterdays]).update(
        created_at=timezone.now() - timedelta(days=1)
    )
    send(alice, busy, "one")
    send(bob, busy, "two")
    send(bob, quiet, "three")
    send(alice, services.direct_open(user=alice, other_username="bob"), "psst")

    with django_assert_num_queries(2):
        traffic = selectors.traffic_since(since=timezone.now() - timedelta(hours=1), busiest=1)

    assert traffic == {"message_count": 4, "busiest_rooms": [{"name": "busy", "messages": 2}]}
