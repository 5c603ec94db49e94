"""The operator console's live sale board: a page rendered with the current figures, which its script
refreshes every second from ``/operator/board.json`` and draws as charts. Without scripts the page
reloads itself every two seconds. Both answers come from the process's shared board
(services/sales/board.py), built at most once a second however many screens are open."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from flashport.services.sales.board import SaleBoard, board_json
from flashport.web import answers
from flashport.web.errors import WebRoute
from flashport.web.routes.operator import operator_only
from flashport.web.state import service_context

router = APIRouter(prefix="/operator", route_class=WebRoute, include_in_schema=False)


def _board(request: Request) -> SaleBoard:
    board: SaleBoard = request.app.state.board
    return board


@router.get("/board")
async def board_page(request: Request) -> Response:
    session = answers.load_session(request)
    operator_only(session)
    figures = await _board(request).snapshot(service_context(request))
    return answers.page(request, session, "operator_board.html", board=figures)


@router.get("/board.json")
async def board_figures(request: Request) -> Response:
    session = answers.load_session(request)
    operator_only(session)
    figures = await _board(request).snapshot(service_context(request))
    return answers.data(request, session, board_json(figures))
