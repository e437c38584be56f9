"""The shop front pages, and sign-up."""

from django import forms
from django.contrib.auth import get_user_model, login, password_validation
from django.contrib.auth.forms import UserCreationForm
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _

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


class SignupForm(UserCreationForm):
    email = forms.EmailField(label=_("邮箱（选填，用于接收通知）"), required=False)

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")


def signup(request):
    next_url = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
        next_url = "/"
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(next_url)
    return render(
        request,
        "registration/signup.html",
        {
            "form": form,
            "next": next_url,
            "password_help": password_validation.password_validators_help_texts(),
        },
    )
