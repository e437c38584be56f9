"""Content negotiation remembered per Accept header (giftshop/negotiation.py): the same renderer and
media type as DRF's own negotiation, the first time and every time after, 406 included."""

import pytest
from django.test import RequestFactory
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request

from giftshop import negotiation
from giftshop.negotiation import RememberingContentNegotiation

HEADERS = [
    None,
    "*/*",
    "application/json",
    "application/json; indent=4",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "text/html",
    "application/*",
]


def _choice(negotiator, accept, query=""):
    extra = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(RequestFactory().get(f"/api/v1/products/{query}", **extra))
    renderers = [JSONRenderer(), BrowsableAPIRenderer()]
    try:
        renderer, media_type = negotiator.select_renderer(request, renderers)
    except NotAcceptable:
        return "406"
    return type(renderer), media_type


@pytest.fixture(autouse=True)
def _forget():
    negotiation._chosen.clear()
    yield
    negotiation._chosen.clear()


@pytest.mark.parametrize("accept", [*HEADERS, "image/png", "text/plain"])
def test_each_choice_is_drfs_the_first_time_and_when_remembered(accept):
    drf = _choice(DefaultContentNegotiation(), accept)
    assert _choice(RememberingContentNegotiation(), accept) == drf
    assert _choice(RememberingContentNegotiation(), accept) == drf


def test_a_format_override_is_honoured_and_not_remembered():
    assert _choice(RememberingContentNegotiation(), "*/*", "?format=api")[0] is BrowsableAPIRenderer
    assert negotiation._chosen == {}
    assert _choice(RememberingContentNegotiation(), "*/*")[0] is JSONRenderer


def test_few_short_headers_are_kept():
    for i in range(200):
        _choice(RememberingContentNegotiation(), f"application/json;q=0.{i % 10},text/html;v={i}")
    _choice(RememberingContentNegotiation(), "application/json," + "x" * 300)
    assert len(negotiation._chosen) <= negotiation._MAX_ENTRIES
    assert all(len(key[0]) <= negotiation._MAX_HEADER for key in negotiation._chosen)


@pytest.mark.django_db
def test_the_api_answers_json_by_default_and_the_browsable_page_to_a_browser(api):
    assert api.get("/api/v1/products/").headers["Content-Type"] == "application/json"
    page = api.get("/api/v1/products/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert page.headers["Content-Type"].startswith("text/html")
    assert api.get("/api/v1/products/", HTTP_ACCEPT="image/png").status_code == 406
