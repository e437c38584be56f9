"""A database outage answers 503 with Retry-After: the API's error body, the static page for pages."""

from django.db import OperationalError
from django.test import RequestFactory
from rest_framework.authentication import TokenAuthentication
from rest_framework.test import APIClient

from giftshop.middleware import DatabaseUnavailableMiddleware


def test_api_request_during_a_database_outage_gets_503_with_the_error_body(db, monkeypatch):
    def database_gone(self, key):
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    monkeypatch.setattr(TokenAuthentication, "authenticate_credentials", database_gone)
    response = APIClient().post(
        "/api/v1/gifts/", {"sku_id": 1, "mode": "single"}, format="json", HTTP_AUTHORIZATION="Token abc"
    )
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert response["Retry-After"] == "5"
    assert response["X-Request-ID"]


def test_page_during_a_database_outage_gets_the_static_503_page():
    middleware = DatabaseUnavailableMiddleware(lambda request: None)
    response = middleware.process_exception(RequestFactory().get("/gifts/"), OperationalError("gone"))
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "服务暂时不可用" in response.content.decode()


def test_other_errors_are_left_to_the_usual_handlers():
    middleware = DatabaseUnavailableMiddleware(lambda request: None)
    assert middleware.process_exception(RequestFactory().get("/api/v1/gifts/"), ValueError("bug")) is None
