"""The sender's tracker: per recipient, how far each gift has got, with counts and a CSV export.

Never an address and never a phone the recipient typed. For bulk gifts the sender typed the names,
contacts and notes themselves: the name and note are shown, the contact only masked.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import LotteryEntry
from gifts.models import GIFT_UNPAID, Gift, Slot, SlotStatus

S = SlotStatus

# Where a recipient stands, in the order a gift moves.
STAGES = ("queued", "sent", "opened", "accepted", "shipped", "delivered", "declined", "expired", "refunded")
STAGE_LABELS = {
    "queued": _("待发送"),
    "sent": _("已送出"),
    "opened": _("已打开"),
    "accepted": _("已收下"),
    "shipped": _("已发货"),
    "delivered": _("已签收"),
    # The words of Slot.status_text: money on its way back is 退款处理中 until the refund settled.
    "declined": _("已婉拒，退款处理中"),
    "expired": _("已过期，退款处理中"),
    "refunded": _("已退款"),
}
_BY_STATUS = {
    S.ACCEPTED: "accepted",
    S.PROCESSING: "accepted",
    S.TO_SHIP: "accepted",
    S.SHIPPED: "shipped",
    S.DELIVERED: "delivered",
    S.DECLINED: "declined",
    S.EXPIRED: "expired",
    S.REFUNDED: "refunded",
}
# The funnel: how many got at least this far (an expired or refunded slot still counts as opened if it was).
FUNNEL = ("sent", "opened", "accepted", "shipped", "delivered")


@dataclass
class TrackerRow:
    slot_id: int
    number: int
    recipient: str
    note: str
    contact: str
    stage: str
    stage_label: str
    sku: str
    link_sent_at: datetime | None
    opened_at: datetime | None
    accepted_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    thanks: str
    can_resend: bool
    resend_after: datetime | None = None  # the link was just sent: 重发链接 again from this time on


def _stage(slot: Slot, link_sent_at, *, bulk: bool) -> str:
    if slot.status == S.UNCLAIMED:
        if slot.opened_at:
            return "opened"
        return "queued" if bulk and link_sent_at is None else "sent"
    return _BY_STATUS[slot.status]


def tracker_slots(*, gift: Gift) -> QuerySet[Slot]:
    return Slot.objects.filter(gift=gift).select_related("recipient", "sku", "bulk_recipient").order_by("number")


def tracker_row(slot: Slot, *, gift: Gift, claimable: bool) -> TrackerRow:
    bulk = gift.mode == Gift.Mode.BULK
    row = getattr(slot, "bulk_recipient", None) if bulk else None
    link_sent_at = row.link_sent_at if row else None
    if row is not None:
        recipient, note, contact = row.name, row.note, row.contact_masked
    else:
        person = slot.recipient or (gift.named_recipient if gift.mode == Gift.Mode.SINGLE else None)
        recipient, note, contact = (person.username if person else ""), "", ""
    stage = _stage(slot, link_sent_at, bulk=bulk)
    return TrackerRow(
        slot_id=slot.pk,
        number=slot.number,
        recipient=recipient,
        note=note,
        contact=contact,
        stage=stage,
        stage_label=str(STAGE_LABELS[stage]),
        sku=slot.sku.label,
        link_sent_at=link_sent_at,
        opened_at=slot.opened_at,
        accepted_at=slot.accepted_at,
        shipped_at=slot.shipped_at,
        delivered_at=slot.delivered_at,
        thanks=slot.thanks,
        can_resend=bulk and claimable and slot.status == S.UNCLAIMED and slot.recipient_id is None,
        resend_after=_resend_after(link_sent_at),
    )


def _resend_after(link_sent_at) -> datetime | None:
    if link_sent_at is None:
        return None
    after = link_sent_at + settings.BULK_LINK_RESEND_INTERVAL
    return after if after > timezone.now() else None


def _claimable(gift: Gift) -> bool:
    return gift.status in ("sent", "partly_claimed", "claimed") and not (
        gift.expires_at and gift.expires_at <= timezone.now()
    )


def tracker_rows(*, gift: Gift, offset: int = 0, limit: int | None = None) -> list[TrackerRow]:
    qs = tracker_slots(gift=gift)
    qs = qs[offset : offset + limit] if limit is not None else qs[offset:]
    claimable = _claimable(gift)
    return [tracker_row(slot, gift=gift, claimable=claimable) for slot in qs]


def tracker_summary(*, gift: Gift) -> dict:
    """Counts per stage and the funnel, from one narrow query over the gift's slots."""
    bulk = gift.mode == Gift.Mode.BULK
    fields = ["status", "opened_at", "accepted_at", "shipped_at", "delivered_at"]
    if bulk:
        fields.append("bulk_recipient__link_sent_at")
    stages: Counter = Counter()
    funnel: Counter = Counter()
    paid = gift.status not in GIFT_UNPAID
    for values in Slot.objects.filter(gift=gift).values_list(*fields):
        status, opened_at, accepted_at, shipped_at, delivered_at = values[:5]
        link_sent_at = values[5] if bulk else None
        slot = Slot(status=status, opened_at=opened_at)
        stages[_stage(slot, link_sent_at, bulk=bulk)] += 1
        reached = {
            "sent": paid and (not bulk or link_sent_at is not None),
            "opened": opened_at is not None or accepted_at is not None,
            "accepted": accepted_at is not None,
            "shipped": shipped_at is not None,
            "delivered": delivered_at is not None,
        }
        funnel.update(k for k, v in reached.items() if v)
    summary = {
        "gift_id": gift.pk,
        "mode": gift.mode,
        "status": gift.status,
        "total": gift.recipients_count,
        "counts": {s: stages[s] for s in STAGES},
        "funnel": {s: funnel[s] for s in FUNNEL},
    }
    if gift.mode == Gift.Mode.LOTTERY:
        summary["entrants"] = LotteryEntry.objects.filter(gift=gift).count()
    return summary


CSV_COLUMNS = (
    ("number", "#"),
    ("recipient", "收礼人"),
    ("note", "备注"),
    ("contact", "联系方式（已隐藏）"),
    ("sku", "款式"),
    ("stage", "进度代码"),  # the stage as a code, for filtering; 进度说明 says it in words
    ("stage_label", "进度说明"),
    ("link_sent_at", "链接发送时间"),
    ("opened_at", "打开时间"),
    ("accepted_at", "收下时间"),
    ("shipped_at", "发货时间"),
    ("delivered_at", "签收时间"),
    ("thanks", "答谢"),
)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    text = str(value)
    # A cell a spreadsheet would run as a formula is written as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def tracker_csv(*, gift: Gift) -> Iterator[str]:
    """The tracker as CSV lines (UTF-8 with BOM so spreadsheets open the Chinese headers), streamed."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([label for _, label in CSV_COLUMNS])
    yield "\ufeff" + buf.getvalue()
    claimable = _claimable(gift)
    for slot in tracker_slots(gift=gift).iterator(chunk_size=1000):
        buf.seek(0)
        buf.truncate()
        data = asdict(tracker_row(slot, gift=gift, claimable=claimable))
        writer.writerow([_cell(data[key]) for key, _ in CSV_COLUMNS])
        yield buf.getvalue()
