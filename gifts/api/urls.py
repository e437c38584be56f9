"""REST routes of the gift core: gifts, claims, received gifts, addresses, the inbox."""

from django.urls import path

import giftshop.inputs  # noqa: F401  (registers the <key:...> converter)
from gifts import views as pages

from . import views

urlpatterns = [
    path("gifts/", views.GiftListCreate.as_view(), name="api-gifts"),
    path("gifts/<int:pk>/", views.GiftDetail.as_view(), name="api-gift"),
    path("gifts/<int:pk>/withdraw/", views.GiftWithdraw.as_view(), name="api-gift-withdraw"),
    path("gifts/<int:pk>/remind/", views.GiftRemind.as_view(), name="api-gift-remind"),
    path("claims/<key:token>/", views.ClaimCard.as_view(), name="api-claim"),
    path("claims/<key:token>/grab/", views.ClaimGrab.as_view(), name="api-claim-grab"),
    path("claims/<key:token>/accept/", views.ClaimAccept.as_view(), name="api-claim-accept"),
    path("claims/<key:token>/decline/", views.ClaimDecline.as_view(), name="api-claim-decline"),
    path("received/", views.ReceivedList.as_view(), name="api-received"),
    path("received/<int:pk>/thanks/", views.ReceivedThanks.as_view(), name="api-received-thanks"),
    path("addresses/", views.SavedAddressList.as_view(), name="api-addresses"),
    path("addresses/<int:pk>/", views.SavedAddressDetail.as_view(), name="api-address"),
    path("notifications/", views.NotificationList.as_view(), name="api-notifications"),
    path("notifications/read/", views.NotificationRead.as_view(), name="api-notifications-read"),
    path("regions/", pages.regions_json, name="api-regions"),
]
