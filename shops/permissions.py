"""What each staff role may do in its shop: the one place roles are checked.

A shipper (发货员) prints, hands parcels to the courier and ships; owners (店主) and managers (店长)
may also send money back (refunds, after-sales approvals), change prices and stock, and change the
shop's settings (the gifting switch, courier, ship-from address, payment sub-merchant). Services call
`staff_require`; pages and admin forms ask `staff_may` to hide what would be refused anyway."""

from __future__ import annotations

from enum import StrEnum

from giftshop.errors import AppError
from shops import error_codes as E
from shops.models import ShopStaff


class Action(StrEnum):
    SHIP = "ship"  # print waybills and packing slips, hand over to the courier, ship by hand
    REFUND = "refund"  # send money back to the sender
    AFTER_SALES = "after_sales"  # approve or refuse a recipient's after-sales request
    EDIT_PRICES = "edit_prices"  # a SKU's price and original price
    EDIT_STOCK = "edit_stock"  # a SKU's stock count (a stocktake)
    MANAGE_SHOP = "manage_shop"  # the gifting switch and the shop's settings (courier, ship-from, payment)


R = ShopStaff.Role
ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    R.OWNER: frozenset(Action),
    R.MANAGER: frozenset(Action),
    R.SHIPPER: frozenset({Action.SHIP}),
}

REFUSALS = {
    Action.SHIP: "你在这家店没有发货权限",
    Action.REFUND: "只有店主或店长可以退款",
    Action.AFTER_SALES: "只有店主或店长可以处理售后",
    Action.EDIT_PRICES: "只有店主或店长可以修改价格",
    Action.EDIT_STOCK: "只有店主或店长可以修改库存",
    Action.MANAGE_SHOP: "只有店主或店长可以修改店铺设置",
}


def _roles(user, shop_ids=None) -> dict[int, str]:
    if not getattr(user, "is_authenticated", False):
        return {}
    qs = ShopStaff.objects.filter(user=user)
    if shop_ids is not None:
        qs = qs.filter(shop_id__in=list(shop_ids))
    return dict(qs.values_list("shop_id", "role"))


def staff_may(*, user, shop_id: int, action: Action) -> bool:
    """Whether `user` may do `action` in this shop. Operators (superusers) always may."""
    if getattr(user, "is_superuser", False):
        return True
    role = _roles(user, [shop_id]).get(shop_id)
    return role is not None and action in ROLE_ACTIONS.get(role, frozenset())


def staff_may_in_all(*, user, action: Action) -> bool:
    """Whether `user` may do `action` in every shop they work for (for forms that pick the shop later)."""
    if getattr(user, "is_superuser", False):
        return True
    roles = _roles(user)
    return bool(roles) and all(action in ROLE_ACTIONS.get(role, frozenset()) for role in roles.values())


def staff_require(*, user, shop_id: int, action: Action) -> None:
    """Refuse with `role_not_allowed` (403) unless `user` may do `action` in this shop."""
    if not staff_may(user=user, shop_id=shop_id, action=action):
        raise AppError(E.ROLE_NOT_ALLOWED, REFUSALS[action])
