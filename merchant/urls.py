"""The merchant site at /merchant/ (its workbench pages are mounted by `MerchantSite.get_urls`)."""

from django.urls import path

from .site import merchant_site

urlpatterns = [path("merchant/", merchant_site.urls)]
