"""The one answer to "can this be sent as a gift?". Pages, the API and checkout all ask here."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from shops.models import Product, Sku

SHOP_GIFTING_OFF = "shop_gifting_off"
CATEGORY_EXCLUDED = "category_excluded"
NOT_ON_SALE = "not_on_sale"
PRICE_OVER_LIMIT = "price_over_limit"
OUT_OF_STOCK = "out_of_stock"


class _ReasonTexts(dict):
    """Reason codes to lazy texts; reading one gives a plain str in the active language, so callers can join them."""

    def __getitem__(self, code: str) -> str:
        return str(super().__getitem__(code))


REASON_TEXT = _ReasonTexts(
    {
        SHOP_GIFTING_OFF: _("本店已关闭送礼物功能"),
        CATEGORY_EXCLUDED: _("该类目商品不支持送礼物"),
        NOT_ON_SALE: _("商品已下架"),
        PRICE_OVER_LIMIT: _("原价超过 ¥10,000 的款式不支持送礼物"),
        OUT_OF_STOCK: _("暂时缺货"),
    }
)
# Order in which reasons are reported: the most fundamental first.
_ORDER = [SHOP_GIFTING_OFF, CATEGORY_EXCLUDED, NOT_ON_SALE, PRICE_OVER_LIMIT, OUT_OF_STOCK]


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reasons: list[str] = field(default_factory=list)

    @property
    def reason_texts(self) -> list[str]:
        return [REASON_TEXT[r] for r in self.reasons]


def _product_reasons(product: Product) -> list[str]:
    reasons = []
    if not product.shop.gifting_enabled:
        reasons.append(SHOP_GIFTING_OFF)
    root = product.category.root
    if root is not None and root.gifting_excluded:
        reasons.append(CATEGORY_EXCLUDED)
    if not product.on_sale:
        reasons.append(NOT_ON_SALE)
    return reasons


def _sku_reasons(sku: Sku, quantity: int = 1) -> list[str]:
    reasons = []
    if sku.original_price_fen > settings.GIFT_MAX_ORIGINAL_PRICE_FEN:
        reasons.append(PRICE_OVER_LIMIT)
    if sku.stock < quantity:
        reasons.append(OUT_OF_STOCK)
    return reasons


def _sorted(reasons: set[str] | list[str]) -> list[str]:
    return [r for r in _ORDER if r in set(reasons)]


def sku_eligibility(sku: Sku, *, quantity: int = 1) -> Eligibility:
    """Whether `quantity` units of this SKU can be gifted now. Expects product, shop and category loaded."""
    reasons = _product_reasons(sku.product) + _sku_reasons(sku, quantity)
    return Eligibility(not reasons, _sorted(reasons))


def product_eligibility(product: Product, skus: list[Sku] | None = None) -> Eligibility:
    """A product can be gifted when its shop and category allow it and at least one SKU can be."""
    skus = list(product.skus.all()) if skus is None else skus
    reasons = _product_reasons(product)
    sku_reasons = [_sku_reasons(s) for s in skus]
    if not skus:
        reasons.append(OUT_OF_STOCK)
    elif all(sku_reasons):
        reasons.extend(r for rs in sku_reasons for r in rs)
    return Eligibility(not reasons, _sorted(reasons))
