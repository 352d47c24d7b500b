from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import condition, require_safe

from messenger import emojis
from messenger.models import MAX_BODY_LENGTH, MAX_ROOM_NAME_LENGTH, MAX_TOPIC_LENGTH

# What the page's inputs allow (maxlength), from the one place the services and the API take them.
LIMITS = {"body": MAX_BODY_LENGTH, "room_name": MAX_ROOM_NAME_LENGTH, "topic": MAX_TOPIC_LENGTH}


@login_required
def app_shell(request: HttpRequest) -> HttpResponse:
    """The single page of the browser client; everything live arrives over /ws/."""
    _, emoji_version = emojis.emoji_catalog()
    context = {
        "idle_after_seconds": settings.PARLEY_PRESENCE_IDLE_SECONDS,
        "limits": LIMITS,
        "emoji_url": f"{reverse('emoji-catalog')}?v={emoji_version}",
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
