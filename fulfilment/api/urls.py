"""The courier's webhook route."""

from django.urls import path

from . import views

urlpatterns = [
    path("carriers/notify/sandbox/", views.CarrierNotify.as_view(), name="api-carrier-notify"),
]
