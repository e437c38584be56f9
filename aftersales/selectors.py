"""Reads of after-sales requests: the recipient's own, the sender's view, the shop's queue."""

from __future__ import annotations

from django.db.models import Min, QuerySet
from django.utils.translation import gettext as _

from giftshop.errors import NotFound
from shops.selectors import shop_ids_for_staff

from .models import AfterSalesPhoto, AfterSalesRequest

R = AfterSalesRequest


def after_sales_for_recipient(*, slot_id: int, user) -> QuerySet[AfterSalesRequest]:
    """Every request on a parcel this user received, newest first, with photos."""
    return R.objects.filter(slot_id=slot_id, slot__recipient=user).prefetch_related("photos").order_by("-id")


def after_sales_latest_by_slot(*, slot_ids) -> dict[int, AfterSalesRequest]:
    """The newest request of each slot (the sender's page and the received list show its status)."""
    latest: dict[int, AfterSalesRequest] = {}
    for request in R.objects.filter(slot_id__in=list(slot_ids)).order_by("id"):
        latest[request.slot_id] = request
    return latest


def after_sales_for_staff(*, user, status: str | None = None) -> QuerySet[AfterSalesRequest]:
    """The requests of the shops this user works for (operators: every shop)."""
    qs = R.objects.all() if user.is_superuser else R.objects.filter(shop_id__in=shop_ids_for_staff(user=user))
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("slot__gift__shop", "slot__sku__product").prefetch_related("photos")


def after_sales_get_for_staff(*, user, request_id: int) -> AfterSalesRequest:
    request = after_sales_for_staff(user=user).filter(pk=request_id).first()
    if request is None:
        raise NotFound(_("售后申请不存在"))
    return request


def after_sales_waiting(*, user) -> dict:
    """How many requests wait for the shop's answer, and the earliest deadline among them."""
    waiting = after_sales_for_staff(user=user, status=R.Status.REQUESTED)
    return {"count": waiting.count(), "next_due": waiting.aggregate(due=Min("answer_by"))["due"]}


def after_sales_photo_get(*, photo_id: int, user):
    """A photo, for the recipient who sent it or the shop's staff; others get 404."""
    photo = AfterSalesPhoto.objects.select_related("request__slot").filter(pk=photo_id).first()
    if photo is None or not user.is_authenticated:
        raise NotFound(_("照片不存在"))
    request = photo.request
    if request.slot.recipient_id == user.pk or user.is_superuser or request.shop_id in shop_ids_for_staff(user=user):
        return photo
    raise NotFound(_("照片不存在"))


def slots_in_after_sales(*, slot_ids) -> set[int]:
    """Of these parcels, the ones with an after-sales request the shop has not finished: they are
    held back from packing and the courier until it is answered (the workbench asks)."""
    return set(R.objects.filter(slot_id__in=list(slot_ids), status__in=R.OPEN).values_list("slot_id", flat=True))
