"""Recipients' personal data: who saw it, how long we keep it, key rotation, export and deletion.

The promise: a recipient's name, phone and street pass from the recipient to the shipping merchant
and no further, and are not kept longer than shipping needs (PIPL: minimum collection, purpose
limits, deletion once the purpose is met).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Phone
from accounts.services.phones import phone_of
from gifts.models import SavedAddress, ShippingAddress, Slot, SlotStatus
from outbox.jobs import enqueue
from privacy.models import PiiAccessLog, PiiRotationJob

log = logging.getLogger(__name__)

ERASED = ""
# Slots whose parcel no longer needs an address, and since when.
_DONE_DELIVERED = Q(slot__status__in=[SlotStatus.DELIVERED, SlotStatus.REFUNDED], slot__delivered_at__isnull=False)
_DONE_UNSHIPPED = Q(
    slot__status__in=[SlotStatus.DECLINED, SlotStatus.EXPIRED, SlotStatus.REFUNDED], slot__delivered_at__isnull=True
)
IN_TRANSIT = [SlotStatus.ACCEPTED, SlotStatus.PROCESSING, SlotStatus.TO_SHIP, SlotStatus.SHIPPED]


# ----- access log -----


def pii_access_record(*, user, slots, channel: str) -> int:
    """One row per slot whose full address or phone was shown or exported, and through which channel."""
    shown = [s for s in slots if getattr(s, "address", None) is not None and not s.address.erased_at]
    rows = [
        PiiAccessLog(
            user=user if getattr(user, "pk", None) else None, slot_id=s.pk, shop_id=s.gift.shop_id, channel=channel
        )
        for s in shown
    ]
    PiiAccessLog.objects.bulk_create(rows)
    return len(rows)


# ----- retention -----


def pii_purge_due(*, now=None, limit: int = 1000) -> int:
    """Erase the personal fields of slots finished more than PII_RETENTION_DAYS ago (delivered, or
    never shipped: declined / expired / refunded), and of deleted accounts' delivered parcels.
    Orders, amounts and statuses stay for accounting."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.PII_RETENTION_DAYS)
    due = ShippingAddress.objects.filter(erased_at__isnull=True).filter(
        (_DONE_DELIVERED & Q(slot__delivered_at__lte=cutoff))
        | (_DONE_UNSHIPPED & Q(slot__status_changed_at__lte=cutoff))
        | (Q(slot__recipient__is_active=False) & ~Q(slot__status__in=IN_TRANSIT))
    )
    ids = list(due.order_by("pk").values_list("pk", flat=True)[:limit])
    if ids:
        ShippingAddress.objects.filter(pk__in=ids).update(name=ERASED, phone=ERASED, detail=ERASED, erased_at=now)
    return len(ids)


# ----- key rotation -----

ROTATABLE = {"shipping": ShippingAddress, "saved": SavedAddress}
PII_FIELDS = ("name", "phone", "detail")


def pii_rotation_start() -> PiiRotationJob:
    total = sum(m.objects.count() for m in ROTATABLE.values())
    job = PiiRotationJob.objects.create(total=total)
    enqueue("privacy.tasks.rotate_pii_batch", job.pk)
    return job


def pii_reencrypt_batch(*, job_id: int, batch_size: int = 500) -> bool:
    """Re-encrypt one batch under the newest key; returns True while there is more to do.
    Reading decrypts with any configured key, writing encrypts with the newest."""
    with transaction.atomic():
        job = PiiRotationJob.objects.select_for_update().get(pk=job_id)
        if job.finished_at:
            return False
        model = ROTATABLE[job.table]
        rows = list(model.objects.filter(pk__gt=job.last_id).order_by("pk")[:batch_size])
        for row in rows:
            model.objects.filter(pk=row.pk).update(**{f: getattr(row, f) for f in PII_FIELDS})
        if rows:
            job.last_id = rows[-1].pk
            job.done += len(rows)
        else:
            tables = list(ROTATABLE)
            nxt = tables.index(job.table) + 1
            if nxt < len(tables):
                job.table, job.last_id = tables[nxt], 0
            else:
                job.finished_at = timezone.now()
        job.save()
        if job.finished_at is None:
            enqueue("privacy.tasks.rotate_pii_batch", job.pk)  # the next batch, recorded with this one
        return job.finished_at is None


# ----- recipient rights -----


def account_export(*, user) -> dict:
    """Everything we hold about an account's own personal data, as JSON-ready data."""
    received = Slot.objects.filter(recipient=user).select_related("gift__sender", "sku__product", "address")
    return {
        "account": {
            "username": user.username,
            "email": user.email,
            "date_joined": user.date_joined.isoformat(),
            "phone": phone.number if (phone := phone_of(user)) else None,
            "wechat_openids": list(SocialAccount.objects.filter(user=user).values_list("uid", flat=True)),
        },
        "saved_addresses": [
            {f: getattr(a, f) for f in ("name", "phone", "province", "city", "district", "detail")}
            for a in user.saved_addresses.all()
        ],
        "received_gifts": [
            {
                "slot": s.pk,
                "status": s.status,
                "product": s.sku.product.title,
                "sku": s.sku.label,
                "from": s.gift.sender.username,
                "thanks": s.thanks,
                "address": (
                    {f: getattr(s.address, f) for f in ("name", "phone", "province", "city", "district", "detail")}
                    if hasattr(s, "address")
                    else None
                ),
            }
            for s in received
        ],
        "sent_gifts": [
            {"gift": g.pk, "status": g.status, "amount_fen": g.amount_fen, "message": g.message}
            for g in user.gifts_sent.all()
        ],
    }


@transaction.atomic
def account_delete(*, user) -> None:
    """Delete saved addresses and the account's identity; erase delivered or never-shipped parcels'
    addresses now. Parcels still in transit keep what shipping needs until delivered; the retention
    sweep erases them then. Orders stay (anonymised) for the sender's and merchant's accounting."""
    user.saved_addresses.all().delete()
    ShippingAddress.objects.filter(slot__recipient=user, erased_at__isnull=True).exclude(
        slot__status__in=IN_TRANSIT
    ).update(name=ERASED, phone=ERASED, detail=ERASED, erased_at=timezone.now())
    user.username = f"deleted-{user.pk}"
    user.email = ""
    user.first_name = user.last_name = ""
    user.is_active = False
    user.set_unusable_password()
    user.save()
    from rest_framework.authtoken.models import Token

    Token.objects.filter(user=user).delete()
    Phone.objects.filter(user=user).delete()  # the number may sign up again, as a new account
    SocialAccount.objects.filter(user=user).delete()  # WeChat openids
