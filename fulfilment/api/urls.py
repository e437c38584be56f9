"""The couriers' webhook routes: the sandbox's, and each real carrier's in its own wire format."""

from django.urls import path

from . import views

urlpatterns = [
    path("carriers/notify/sandbox/", views.CarrierNotify.as_view(), name="api-carrier-notify"),
    path(
        "carriers/notify/kuaidi100/",
        views.CarrierGatewayNotify.as_view(carrier="kuaidi100"),
        name="api-carrier-notify-kuaidi100",
    ),
]
