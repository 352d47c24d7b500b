from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from core.health import REQUIRED_CHECKS, health_report


@require_GET
async def healthz(request: HttpRequest) -> JsonResponse:
    """Readiness for load balancers and monitoring: 200 when the database and channel layer answer, 503
    otherwise; the virus scanner's state is reported alongside."""
    checks = await health_report()
    is_healthy = all(checks[name] == "ok" for name in REQUIRED_CHECKS)
    return JsonResponse(
        {"status": "ok" if is_healthy else "down", "checks": checks},
        status=200 if is_healthy else 503,
    )
