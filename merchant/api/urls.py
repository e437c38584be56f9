"""REST routes of the merchant's own shops, products, stock and recipient orders."""

from django.urls import path

from . import views

urlpatterns = [
    path("merchant/shops/", views.MerchantShopList.as_view(), name="api-merchant-shops"),
    path("merchant/shops/<int:pk>/gifting/", views.MerchantGiftingSwitch.as_view(), name="api-merchant-gifting"),
    path("merchant/products/", views.MerchantProductList.as_view(), name="api-merchant-products"),
    path("merchant/skus/<int:pk>/", views.MerchantSkuStock.as_view(), name="api-merchant-sku"),
    path("merchant/orders/", views.MerchantOrders.as_view(), name="api-merchant-orders"),
    path("merchant/orders/<int:pk>/ship/", views.MerchantShip.as_view(), name="api-merchant-ship"),
    path("merchant/orders/<int:pk>/refund/", views.MerchantRefund.as_view(), name="api-merchant-refund"),
]
