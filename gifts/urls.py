"""The sender's and the recipient's pages of a gift: checkout, card, claim, received, inbox."""

from django.urls import path

import giftshop.inputs  # noqa: F401  (registers the <key:...> converter)

from . import views

urlpatterns = [
    path("products/<int:pk>/gift/", views.checkout, name="gift-checkout"),
    path("gifts/", views.gift_list, name="gift-list"),
    path("gifts/<int:pk>/", views.gift_detail, name="gift-detail"),
    path("gifts/<int:pk>/card/", views.gift_card, name="gift-card"),
    path("gifts/<int:pk>/withdraw/", views.gift_withdraw, name="gift-withdraw"),
    path("gifts/<int:pk>/remind/", views.gift_remind, name="gift-remind"),
    path("gifts/<int:pk>/qr.svg", views.gift_qr, name="gift-qr"),
    path("gifts/<int:pk>/poster.png", views.gift_poster, name="gift-poster"),
    path("c/<key:token>/", views.claim, name="claim"),
    path("received/", views.received, name="received"),
    path("received/<int:pk>/thanks/", views.thanks, name="received-thanks"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<int:pk>/", views.inbox_open, name="inbox-open"),
]
