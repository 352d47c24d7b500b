from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import condition, require_safe

from accounts.selectors import admin_open_to
from core.webpush import application_server_key
from games.selectors import games_enabled_for
from messenger import emojis
from messenger.models import MAX_BODY_LENGTH, MAX_ROOM_NAME_LENGTH, MAX_TOPIC_LENGTH

# What the page's inputs allow (maxlength), from the one place the services and the API take them.
LIMITS = {"body": MAX_BODY_LENGTH, "room_name": MAX_ROOM_NAME_LENGTH, "topic": MAX_TOPIC_LENGTH}
THEME_COLOUR = "#3563e9"  # the icon's blue (static/img/parley.svg)


@login_required
def app_shell(request: HttpRequest) -> HttpResponse:
    """The single page of the browser client; everything live arrives over /ws/."""
    _, emoji_version = emojis.emoji_catalog()
    vapid_key = settings.PARLEY_VAPID_PRIVATE_KEY
    context = {
        "idle_after_seconds": settings.PARLEY_PRESENCE_IDLE_SECONDS,
        "limits": LIMITS,
        "emoji_url": f"{reverse('emoji-catalog')}?v={emoji_version}",
        "push_key": application_server_key(vapid_key) if vapid_key else "",
        "opens_admin": admin_open_to(user=request.user),
        # Games switched off for this user (games.models.GamePolicy): the page offers no Game button. Read once
        # per page load; a policy changed meanwhile shows at the next load (the services refuse at once anyway).
        "games_enabled": games_enabled_for(user=request.user),
    }
    return render(request, "messenger/app.html", context)


@require_safe
@gzip_page
@condition(etag_func=lambda request: emojis.emoji_catalog()[1])
def emoji_catalog(request: HttpRequest) -> HttpResponse:
    """The emoji picker's data (messenger.emojis), the same for everyone, like a static file. The page asks for
    it with its ETag in the URL (`?v=`), which a browser may keep for a year: a package upgrade changes the URL.
    Any other URL is revalidated by its ETag (304 when unchanged)."""
    body, version = emojis.emoji_catalog()
    response = HttpResponse(body, content_type="application/json")
    if request.GET.get("v") == version:
        patch_cache_control(response, public=True, max_age=365 * 24 * 3600, immutable=True)
    else:
        patch_cache_control(response, public=True, no_cache=True)
    return response


@require_safe
def service_worker(request: HttpRequest) -> HttpResponse:
    """static/js/sw.js at /sw.js: a service worker controls only pages under the folder it is served from, and
    push notifications must open any page of Parley. Never cached long, so a new version reaches browsers."""
    with open(finders.find("js/sw.js"), encoding="utf-8") as script:
        body = script.read()
    return HttpResponse(body, content_type="text/javascript; charset=utf-8", headers={"Cache-Control": "no-cache"})


@require_safe
def web_manifest(request: HttpRequest) -> JsonResponse:
    """The web app manifest: what a browser needs to install Parley as an app (dock, home screen). Public:
    browsers fetch it without cookies."""
    manifest = {
        "id": "/",
        "name": "Parley",
        "short_name": "Parley",
        "description": "Your company's messenger.",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": THEME_COLOUR,
        "icons": [
            {"src": static("img/parley-192.png"), "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": static("img/parley-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any"},
            {
                "src": static("img/parley-maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
            {"src": static("img/parley.svg"), "sizes": "any", "type": "image/svg+xml", "purpose": "any"},
        ],
    }
    return JsonResponse(manifest, content_type="application/manifest+json", headers={"Cache-Control": "no-cache"})
