from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def app_shell(request: HttpRequest) -> HttpResponse:
    """The single page of the browser client; everything live arrives over /ws/."""
    return render(request, "messenger/app.html", {"idle_after_seconds": settings.PARLEY_PRESENCE_IDLE_SECONDS})
