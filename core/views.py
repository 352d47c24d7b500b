from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from core.health import REQUIRED_CHECKS, health_report
from core.metrics import exposition, may_read_metrics
from core.net import client_ip


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


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """This worker's Prometheus metrics, for the addresses in PARLEY_METRICS_ALLOWED_ADDRESSES only: anyone else
    gets 404, so the page does not even show that it exists. No sign-in: Prometheus has none."""
    if not may_read_metrics(client_ip(request)):
        raise Http404
    body, content_type = exposition()
    return HttpResponse(body, content_type=content_type)
