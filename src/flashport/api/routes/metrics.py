"""``GET /metrics``: Prometheus's text format. Not in OpenAPI and not for the public: a deployment lets
only its scraper reach it (docs/observability.md)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from flashport.adapters import metrics
from flashport.api.deps import get_ctx
from flashport.services import backlog
from flashport.services.context import Context

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics_page(ctx: Context = Depends(get_ctx)) -> Response:
    measured = await backlog.measure(ctx)
    body = metrics.render_processes() + metrics.render_backlog(measured.depths, measured.lags)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
