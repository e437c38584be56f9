"""REST routes of group lotteries, bulk lists and the sender's tracker."""

from django.urls import path

import giftshop.inputs  # noqa: F401  (registers the <key:...> converter)

from . import views

urlpatterns = [
    path("lotteries/", views.LotteryCreate.as_view(), name="api-lotteries"),
    path("lotteries/<key:token>/", views.LotteryCard.as_view(), name="api-lottery"),
    path("lotteries/<key:token>/enter/", views.LotteryEnter.as_view(), name="api-lottery-enter"),
    path("bulk-orders/", views.BulkCreate.as_view(), name="api-bulk-orders"),
    path("bulk-orders/<int:pk>/", views.BulkDetail.as_view(), name="api-bulk-order"),
    path("bulk-orders/<int:pk>/progress/", views.BulkProgress.as_view(), name="api-bulk-progress"),
    path("bulk-orders/<int:pk>/checkout/", views.BulkCheckout.as_view(), name="api-bulk-checkout"),
    path("bulk-claims/<key:token>/", views.BulkClaimCard.as_view(), name="api-bulk-claim"),
    path("bulk-claims/<key:token>/code/", views.BulkClaimCode.as_view(), name="api-bulk-claim-code"),
    path("bulk-claims/<key:token>/verify/", views.BulkClaimVerify.as_view(), name="api-bulk-claim-verify"),
    path("bulk-claims/<key:token>/accept/", views.BulkClaimAccept.as_view(), name="api-bulk-claim-accept"),
    path("bulk-claims/<key:token>/decline/", views.BulkClaimDecline.as_view(), name="api-bulk-claim-decline"),
    path("gifts/<int:pk>/tracker/", views.GiftTracker.as_view(), name="api-gift-tracker"),
    path("gifts/<int:pk>/tracker.csv", views.GiftTrackerCsv.as_view(), name="api-gift-tracker-csv"),
    path("gifts/<int:pk>/slots/<int:slot_id>/resend/", views.BulkResend.as_view(), name="api-gift-resend"),
]
