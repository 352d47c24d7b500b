from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from messenger.models import MAX_BODY_LENGTH, MAX_ROOM_NAME_LENGTH, MAX_TOPIC_LENGTH

# What the page's inputs allow (maxlength), from the one place the services and the API take them.
LIMITS = {"body": MAX_BODY_LENGTH, "room_name": MAX_ROOM_NAME_LENGTH, "topic": MAX_TOPIC_LENGTH}


@login_required
def app_shell(request: HttpRequest) -> HttpResponse:
    """The single page of the browser client; everything live arrives over /ws/."""
    context = {"idle_after_seconds": settings.PARLEY_PRESENCE_IDLE_SECONDS, "limits": LIMITS}
    return render(request, "messenger/app.html", context)
