from django.urls import path

from . import views

urlpatterns = [
    path("received/<int:slot_id>/after-sales/", views.ReceivedAfterSales.as_view(), name="api-after-sales"),
    path(
        "received/<int:slot_id>/after-sales/return-shipment/",
        views.ReceivedReturnShipment.as_view(),
        name="api-after-sales-return",
    ),
    path("after-sales/photos/<int:pk>/", views.AfterSalesPhotoView.as_view(), name="after-sales-photo"),
    path("merchant/after-sales/", views.MerchantAfterSalesList.as_view(), name="api-merchant-after-sales"),
    path(
        "merchant/after-sales/<int:pk>/approve/",
        views.MerchantAfterSalesApprove.as_view(),
        name="api-merchant-after-sales-approve",
    ),
    path(
        "merchant/after-sales/<int:pk>/refuse/",
        views.MerchantAfterSalesRefuse.as_view(),
        name="api-merchant-after-sales-refuse",
    ),
    path(
        "merchant/after-sales/<int:pk>/receive/",
        views.MerchantAfterSalesReceive.as_view(),
        name="api-merchant-after-sales-receive",
    ),
]
