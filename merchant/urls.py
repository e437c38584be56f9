"""The merchant site at /merchant/."""

from django.urls import path

from .after_sales import after_sales_queue
from .site import merchant_site

urlpatterns = [
    path(
        "merchant/after-sales/",
        merchant_site.admin_view(lambda request: after_sales_queue(request, merchant_site)),
        name="merchant-after-sales",
    ),
    path("merchant/", merchant_site.urls),
]
