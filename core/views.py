from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from core.health import health_report


@require_GET
async def healthz(request: HttpRequest) -> JsonResponse:
    """Readiness for load balancers and monitoring: 200 when every dependency answers, 503 otherwise."""
    checks = await health_report()
    is_healthy = all(state == "ok" for state in checks.values())
    return JsonResponse(
        {"status": "ok" if is_healthy else "down", "checks": checks},
        status=200 if is_healthy else 503,
    )
