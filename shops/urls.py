"""The shop front: home, a shop, a product with its gifting eligibility."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("shops/<slug:slug>/", views.shop_detail, name="shop-detail"),
    path("products/<int:pk>/", views.product_detail, name="product-detail"),
]
