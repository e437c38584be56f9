"""Pages of the group lottery, the bulk list and the sender's tracker."""

from django.urls import path

import giftshop.inputs  # noqa: F401  (registers the <key:...> converter)

from . import views

urlpatterns = [
    path("products/<int:pk>/lottery/", views.lottery_new, name="lottery-new"),
    path("l/<key:token>/", views.lottery_page, name="lottery"),
    path("products/<int:pk>/bulk/", views.bulk_new, name="bulk-new"),
    path("bulk/<int:pk>/", views.bulk_order, name="bulk-order"),
    path("b/<key:token>/", views.bulk_claim, name="bulk-claim"),
    path("gifts/<int:pk>/tracker/", views.tracker_page, name="gift-tracker"),
    path("gifts/<int:pk>/tracker.csv", views.tracker_csv, name="gift-tracker-csv"),
    path("gifts/<int:pk>/tracker/resend/<int:slot_id>/", views.tracker_resend, name="gift-tracker-resend"),
]
