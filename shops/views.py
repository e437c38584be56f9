"""The shop front pages (sign-in and sign-up: accounts/)."""

from django.shortcuts import get_object_or_404, render

from shops.eligibility import product_eligibility, sku_eligibility
from shops.models import Shop
from shops.selectors import product_get, products_on_sale


def home(request):
    products = list(products_on_sale()[:60])
    cards = [(p, product_eligibility(p, list(p.skus.all()))) for p in products]
    return render(request, "shops/home.html", {"cards": cards, "shops": Shop.objects.order_by("id")})


def shop_detail(request, slug: str):
    shop = get_object_or_404(Shop, slug=slug)
    products = list(products_on_sale(shop_id=shop.pk))
    cards = [(p, product_eligibility(p, list(p.skus.all()))) for p in products]
    return render(request, "shops/shop.html", {"shop": shop, "cards": cards})


def product_detail(request, pk: int):
    product = product_get(product_id=pk)
    skus = list(product.skus.all())
    eligibility = product_eligibility(product, skus)
    sku_rows = [(s, sku_eligibility(s)) for s in skus]
    return render(
        request,
        "shops/product.html",
        {
            "product": product,
            "eligibility": eligibility,
            "sku_rows": sku_rows,
            "min_price": min((s.price_fen for s in skus), default=None),
        },
    )
