"""REST routes of the public catalogue."""

from django.urls import path

from . import views

urlpatterns = [
    path("products/", views.ProductList.as_view(), name="api-products"),
    path("products/<int:pk>/", views.ProductDetail.as_view(), name="api-product"),
]
