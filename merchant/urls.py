"""The merchant site at /merchant/."""

from django.urls import path

from .site import merchant_site

urlpatterns = [path("merchant/", merchant_site.urls)]
