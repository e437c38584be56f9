from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from gifts import account_views, group_views
from gifts import views as gift_views
from gifts.api import group_views as group_api
from gifts.api import views as gift_api
from shops import views as shop_views
from shops.admin import merchant_site
from shops.api import views as shop_api

from . import api_auth, health

api_v1 = [
    path("auth/register/", api_auth.Register.as_view(), name="api-register"),
    path("auth/token/", api_auth.ObtainToken.as_view(), name="api-token"),
    path("products/", shop_api.ProductList.as_view(), name="api-products"),
    path("products/<int:pk>/", shop_api.ProductDetail.as_view(), name="api-product"),
    path("gifts/", gift_api.GiftListCreate.as_view(), name="api-gifts"),
    path("gifts/<int:pk>/", gift_api.GiftDetail.as_view(), name="api-gift"),
    path("payments/notify/sandbox/", gift_api.PaymentNotify.as_view(), name="api-payment-notify"),
    path("carriers/notify/sandbox/", gift_api.CarrierNotify.as_view(), name="api-carrier-notify"),
    path("claims/<str:token>/", gift_api.ClaimCard.as_view(), name="api-claim"),
    path("claims/<str:token>/grab/", gift_api.ClaimGrab.as_view(), name="api-claim-grab"),
    path("claims/<str:token>/accept/", gift_api.ClaimAccept.as_view(), name="api-claim-accept"),
    path("claims/<str:token>/decline/", gift_api.ClaimDecline.as_view(), name="api-claim-decline"),
    path("received/", gift_api.ReceivedList.as_view(), name="api-received"),
    path("received/<int:pk>/thanks/", gift_api.ReceivedThanks.as_view(), name="api-received-thanks"),
    path("addresses/", gift_api.SavedAddressList.as_view(), name="api-addresses"),
    path("addresses/<int:pk>/", gift_api.SavedAddressDetail.as_view(), name="api-address"),
    path("merchant/shops/", shop_api.MerchantShopList.as_view(), name="api-merchant-shops"),
    path("merchant/shops/<int:pk>/gifting/", shop_api.MerchantGiftingSwitch.as_view(), name="api-merchant-gifting"),
    path("merchant/products/", shop_api.MerchantProductList.as_view(), name="api-merchant-products"),
    path("merchant/skus/<int:pk>/", shop_api.MerchantSkuStock.as_view(), name="api-merchant-sku"),
    path("merchant/orders/", gift_api.MerchantOrders.as_view(), name="api-merchant-orders"),
    path("merchant/orders/<int:pk>/ship/", gift_api.MerchantShip.as_view(), name="api-merchant-ship"),
    path("merchant/orders/<int:pk>/refund/", gift_api.MerchantRefund.as_view(), name="api-merchant-refund"),
    path("notifications/", gift_api.NotificationList.as_view(), name="api-notifications"),
    path("notifications/read/", gift_api.NotificationRead.as_view(), name="api-notifications-read"),
    path("lotteries/", group_api.LotteryCreate.as_view(), name="api-lotteries"),
    path("lotteries/<str:token>/", group_api.LotteryCard.as_view(), name="api-lottery"),
    path("lotteries/<str:token>/enter/", group_api.LotteryEnter.as_view(), name="api-lottery-enter"),
    path("bulk-orders/", group_api.BulkCreate.as_view(), name="api-bulk-orders"),
    path("bulk-orders/<int:pk>/", group_api.BulkDetail.as_view(), name="api-bulk-order"),
    path("bulk-orders/<int:pk>/progress/", group_api.BulkProgress.as_view(), name="api-bulk-progress"),
    path("bulk-orders/<int:pk>/checkout/", group_api.BulkCheckout.as_view(), name="api-bulk-checkout"),
    path("bulk-claims/<str:token>/", group_api.BulkClaimCard.as_view(), name="api-bulk-claim"),
    path("bulk-claims/<str:token>/code/", group_api.BulkClaimCode.as_view(), name="api-bulk-claim-code"),
    path("bulk-claims/<str:token>/verify/", group_api.BulkClaimVerify.as_view(), name="api-bulk-claim-verify"),
    path("bulk-claims/<str:token>/accept/", group_api.BulkClaimAccept.as_view(), name="api-bulk-claim-accept"),
    path("bulk-claims/<str:token>/decline/", group_api.BulkClaimDecline.as_view(), name="api-bulk-claim-decline"),
    path("gifts/<int:pk>/tracker/", group_api.GiftTracker.as_view(), name="api-gift-tracker"),
    path("gifts/<int:pk>/tracker.csv", group_api.GiftTrackerCsv.as_view(), name="api-gift-tracker-csv"),
    path("gifts/<int:pk>/slots/<int:slot_id>/resend/", group_api.BulkResend.as_view(), name="api-gift-resend"),
    path("regions/", gift_views.regions_json, name="api-regions"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    path("", shop_views.home, name="home"),
    path("shops/<slug:slug>/", shop_views.shop_detail, name="shop-detail"),
    path("products/<int:pk>/", shop_views.product_detail, name="product-detail"),
    path("products/<int:pk>/gift/", gift_views.checkout, name="gift-checkout"),
    path("gifts/", gift_views.gift_list, name="gift-list"),
    path("gifts/<int:pk>/", gift_views.gift_detail, name="gift-detail"),
    path("gifts/<int:pk>/card/", gift_views.gift_card, name="gift-card"),
    path("gifts/<int:pk>/qr.svg", gift_views.gift_qr, name="gift-qr"),
    path("c/<str:token>/", gift_views.claim, name="claim"),
    path("received/", gift_views.received, name="received"),
    path("received/<int:pk>/thanks/", gift_views.thanks, name="received-thanks"),
    path("inbox/", gift_views.inbox, name="inbox"),
    path("account/data/", account_views.account_data, name="account-data"),
    path("sandbox/cashier/<str:out_trade_no>/", gift_views.sandbox_cashier, name="sandbox-cashier"),
    path("sandbox/pay/<str:out_trade_no>/", gift_views.sandbox_pay, name="sandbox-pay"),
    path("products/<int:pk>/lottery/", group_views.lottery_new, name="lottery-new"),
    path("l/<str:token>/", group_views.lottery_page, name="lottery"),
    path("products/<int:pk>/bulk/", group_views.bulk_new, name="bulk-new"),
    path("bulk/<int:pk>/", group_views.bulk_order, name="bulk-order"),
    path("b/<str:token>/", group_views.bulk_claim, name="bulk-claim"),
    path("gifts/<int:pk>/tracker/", group_views.tracker_page, name="gift-tracker"),
    path("gifts/<int:pk>/tracker.csv", group_views.tracker_csv, name="gift-tracker-csv"),
    path("gifts/<int:pk>/tracker/resend/<int:slot_id>/", group_views.tracker_resend, name="gift-tracker-resend"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", shop_views.signup, name="signup"),
    path("healthz", health.live, name="healthz"),
    path("readyz", health.ready, name="readyz"),
    path("api/v1/", include(api_v1)),
    path("merchant/", merchant_site.urls),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("django_prometheus.urls")),
]


def handler404(request, exception=None):
    """API paths answer 404 in the API's error format; pages get the friendly page."""
    from django.http import JsonResponse
    from django.shortcuts import render

    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
    return render(request, "404.html", status=404)
