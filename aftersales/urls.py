"""The recipient's after-sales pages."""

from django.urls import path

from . import views

urlpatterns = [
    path("received/<int:slot_id>/after-sales/", views.after_sales, name="after-sales"),
    path("received/<int:slot_id>/after-sales/return/", views.return_shipment, name="after-sales-return"),
    path("after-sales/<int:pk>/cancel/", views.cancel, name="after-sales-cancel"),
]
