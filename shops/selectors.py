"""Reads for shops and products, each enforcing who may see what."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext

from giftshop.errors import NotFound
from shops.models import Product, Shop, ShopStaff, Sku

_PRODUCT_RELATED = ("shop", "category__root")


def products_on_sale(*, shop_id: int | None = None) -> QuerySet[Product]:
    qs = Product.objects.filter(on_sale=True).select_related(*_PRODUCT_RELATED)
    qs = qs.prefetch_related(Prefetch("skus", queryset=Sku.objects.order_by("id")))
    if shop_id is not None:
        qs = qs.filter(shop_id=shop_id)
    return qs.order_by("id")


def product_get(*, product_id: int) -> Product:
    """A product anyone may view: on sale, or off sale but still shown with the reason."""
    product = (
        Product.objects.select_related(*_PRODUCT_RELATED)
        .prefetch_related(Prefetch("skus", queryset=Sku.objects.order_by("id")))
        .filter(pk=product_id)
        .first()
    )
    if product is None:
        raise NotFound(gettext("商品不存在"))
    return product


def sku_get(*, sku_id: int, for_update: bool = False) -> Sku:
    qs = Sku.objects.select_related("product__shop", "product__category__root")
    if for_update:
        qs = qs.select_for_update(of=("self",))
    sku = qs.filter(pk=sku_id).first()
    if sku is None:
        raise NotFound(gettext("款式不存在"))
    return sku


def shops_for_staff(*, user) -> QuerySet[Shop]:
    """The shops a user works for. Superusers (operators) see all."""
    if user.is_superuser:
        return Shop.objects.all()
    return Shop.objects.filter(staff__user=user)


def shop_ids_for_staff(*, user) -> list[int]:
    if not user.is_authenticated:
        return []
    return list(ShopStaff.objects.filter(user=user).values_list("shop_id", flat=True))


def products_for_staff(*, user, shop_id: int | None = None) -> QuerySet[Product]:
    """Every product (on sale or not) of the shops this user works for, with its SKUs."""
    qs = Product.objects.filter(shop_id__in=shop_ids_for_staff(user=user)).select_related(*_PRODUCT_RELATED)
    qs = qs.prefetch_related(Prefetch("skus", queryset=Sku.objects.order_by("id")))
    if shop_id is not None:
        qs = qs.filter(shop_id=shop_id)
    return qs.order_by("id")


def sku_get_for_staff(*, user, sku_id: int) -> Sku:
    """A SKU of one of the user's shops; another shop's SKU fails exactly like a missing one."""
    sku = (
        Sku.objects.select_related("product__shop")
        .filter(pk=sku_id, product__shop_id__in=shop_ids_for_staff(user=user))
        .first()
    )
    if sku is None:
        raise NotFound(gettext("款式不存在"))
    return sku


def product_card(sku: Sku, *, shop_name: str) -> dict:
    """The product as a gift card shows it: the photo is the paid 款式's own, else the product's."""
    product = sku.product
    return {
        "id": product.pk,
        "title": product.title,
        "image": product.image.name or "",
        "image_url": sku.tile_url,
        "shop": shop_name,
    }
