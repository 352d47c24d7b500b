"""/api/v1/calls/ice-servers: the ICE servers the signed-in user's browser (or a bot) may use for calls."""

from django.http import HttpRequest
from ninja import Router

from calls.ice import ice_servers_for

router = Router()


@router.get("/calls/ice-servers", summary="ICE servers for calls: none, or the company's TURN with fresh credentials")
def ice_servers(request: HttpRequest) -> dict:
    return {"ice_servers": ice_servers_for(user_id=request.user.pk)}
