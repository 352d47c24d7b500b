import json
from io import BytesIO

import pytest
from django.contrib.auth.models import Group
from PIL import Image

from accounts.tests.factories import TEST_PASSWORD, UserFactory
from core.webpush import application_server_key
from games.models import GamePolicy

pytestmark = pytest.mark.django_db


def test_app_sends_a_visitor_to_the_login_page(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_login_page_renders_the_sign_in_form(client):
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b'name="password"' in response.content


def test_signing_in_opens_the_app(client):
    UserFactory(username="bob", display_name="Bob Bauer")

    response = client.post("/accounts/login/", {"username": "bob", "password": TEST_PASSWORD}, follow=True)

    assert response.status_code == 200
    assert b"Welcome, Bob Bauer" in response.content


def test_wrong_password_shows_an_error_and_no_app(client):
    UserFactory(username="bob")

    response = client.post("/accounts/login/", {"username": "bob", "password": "wrong"})

    assert response.status_code == 200
    assert b"didn't match" in response.content


def test_the_app_tells_the_browser_the_configured_idle_time_and_links_to_sign_in_security(client, settings):
    settings.PARLEY_PRESENCE_IDLE_SECONDS = 120
    client.force_login(UserFactory(username="bob"))

    page = client.get("/").content.decode()

    assert 'data-idle-after-seconds="120"' in page
    assert 'href="/accounts/security/"' in page


def test_the_page_tells_the_browser_whether_games_are_switched_off_for_this_user(client):
    trading_floor = Group.objects.create(name="Trading floor")
    GamePolicy.objects.create(group=trading_floor, games_enabled=False)
    trader = UserFactory(username="trader")
    trader.groups.add(trading_floor)

    client.force_login(UserFactory(username="bob"))
    assert 'data-games-enabled="true"' in client.get("/").content.decode()
    client.force_login(trader)
    assert 'data-games-enabled="false"' in client.get("/").content.decode()


def test_the_page_limits_its_inputs_as_the_services_do(client):
    from messenger.models import MAX_BODY_LENGTH, MAX_ROOM_NAME_LENGTH, MAX_TOPIC_LENGTH

    client.force_login(UserFactory(username="bob"))

    page = client.get("/").content.decode()

    assert f'id="composer-input" rows="1" maxlength="{MAX_BODY_LENGTH}"' in page
    assert page.count(f'maxlength="{MAX_ROOM_NAME_LENGTH}" required') == 2  # new room, room settings
    assert page.count(f'name="topic" maxlength="{MAX_TOPIC_LENGTH}"') == 2


def test_the_page_asks_for_the_emoji_catalog_by_its_version(client):
    from messenger.emojis import emoji_catalog

    client.force_login(UserFactory(username="bob"))

    page = client.get("/").content.decode()

    assert f'data-emoji-url="/emoji.json?v={emoji_catalog()[1]}"' in page


class TestEmojiCatalog:
    def test_the_versioned_url_is_kept_for_a_year_and_gzipped_like_a_static_file(self, client):
        from messenger.emojis import emoji_catalog

        body, version = emoji_catalog()

        response = client.get(f"/emoji.json?v={version}", HTTP_ACCEPT_ENCODING="gzip")

        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert response["Content-Encoding"] == "gzip"
        assert set(response["Cache-Control"].split(", ")) == {"public", "max-age=31536000", "immutable"}
        assert version in response["ETag"]
        assert len(response.content) < len(body) / 2

    def test_any_other_url_is_revalidated_and_unchanged_data_is_not_sent_again(self, client):
        first = client.get("/emoji.json?v=old")
        again = client.get("/emoji.json", HTTP_IF_NONE_MATCH=first["ETag"])

        assert "no-cache" in first["Cache-Control"]
        assert first.json()["quick"][0] == "👍"
        assert again.status_code == 304
        assert again.content == b""

    def test_it_needs_no_sign_in_and_refuses_writes(self, client):
        assert client.get("/emoji.json").status_code == 200
        assert client.post("/emoji.json").status_code == 405


def test_the_web_app_manifest_is_valid_json_with_what_installing_needs_and_its_icons_are_served(client):
    response = client.get("/manifest.webmanifest")  # no sign-in: browsers fetch it without cookies

    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["name"] == manifest["short_name"] == "Parley"
    assert (manifest["start_url"], manifest["scope"], manifest["display"]) == ("/", "/", "standalone")
    assert manifest["theme_color"].startswith("#")
    sizes = set()
    for icon in manifest["icons"]:
        served = client.get(icon["src"])
        body = b"".join(served.streaming_content) if served.streaming else served.content
        assert served.status_code == 200, icon["src"]
        assert served["Content-Type"] == icon["type"]
        if icon["type"] == "image/png":
            picture = Image.open(BytesIO(body))
            assert f"{picture.width}x{picture.height}" == icon["sizes"]
            sizes.add((icon["sizes"], icon["purpose"]))
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes


def test_every_page_links_the_manifest_and_the_service_worker_is_served_for_the_whole_site(client):
    login = client.get("/accounts/login/").content.decode()
    worker = client.get("/sw.js")

    assert '<link rel="manifest" href="/manifest.webmanifest">' in login
    assert worker.status_code == 200
    assert worker["Content-Type"].startswith("text/javascript")
    assert worker["Cache-Control"] == "no-cache"
    assert b'addEventListener("push"' in worker.content


def test_the_app_carries_the_key_its_browser_subscribes_to_push_with(client, settings):
    client.force_login(UserFactory(username="bob"))
    key = application_server_key(settings.PARLEY_VAPID_PRIVATE_KEY)
    with_key = client.get("/").content.decode()
    settings.PARLEY_VAPID_PRIVATE_KEY = ""  # no key (production without one): no Web Push offered
    without = client.get("/").content.decode()

    assert f'data-push-key="{key}"' in with_key
    assert 'data-push-key=""' in without
