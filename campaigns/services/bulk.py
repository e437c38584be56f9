"""Bulk gifts (员工福利, client gifts): one SKU, a list of named recipients, one payment.

1. `bulk_order_create` stores the uploaded CSV; workers validate it in chunks
   (`bulk_rows_check_chunk`), writing one BulkRecipient per row with the reasons a row is refused.
2. The sender sees the per-row report and confirms: `bulk_checkout` opens one gift with a slot per
   valid row and one prepay order for all of them.
3. Once paid, workers send each recipient a personal link in chunks (`bulk_links_deliver_chunk`).
4. A recipient proves they are the named person with a one-time code sent to the phone or email
   the sender typed (`bulk_code_send`, `bulk_code_verify`); only then is the slot bound to their
   account and `claim.slot_accept` lets them accept. Holding the link alone is not enough.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext

from accounts.services.phones import phone_of
from campaigns import error_codes as E
from campaigns.models import BulkOrder, BulkRecipient
from campaigns.states import bulk_order_move
from gifts import error_codes as GE
from gifts.events import bulk_verified_event, link_resent_event, message_refused_event
from gifts.models import GIFT_CLAIMABLE, GIFT_UNPAID, Gift, Slot, SlotStatus, mask_phone
from gifts.regions import phone_is_valid
from gifts.services.checkout import gift_open, quantity_validate, sku_check_giftable
from giftshop.errors import AppError, NotFound
from giftshop.sms import SmsRejected, sms_sender
from outbox.jobs import enqueue, enqueue_many
from shops.selectors import product_card

log = logging.getLogger(__name__)

# What `bulk_contact_reach` sends to a list recipient.
MESSAGE_LINK, MESSAGE_REMINDER, MESSAGE_CODE = "link", "reminder", "code"

MAX_CSV_CHARS = 2_000_000
NAME_MAX = 30
NOTE_MAX = 100
HEADER_FIRST_CELLS = {"name", "姓名", "名字", "收礼人"}

Stage = BulkOrder.Stage


# ----- upload and validation -----


def _parse(text: str) -> list[tuple[int, list[str]]]:
    """(line number in the file, cells) for each non-blank data row; a header row is skipped."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    rows: list[tuple[int, list[str]]] = []
    for cells in reader:
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        if not rows and cells[0].lower() in HEADER_FIRST_CELLS:
            continue
        rows.append((reader.line_num, cells))
    return rows


def bulk_order_create(*, sender, sku_id: int, csv_text: str, quantity: int = 1, message: str = "") -> BulkOrder:
    """Store an uploaded list and hand it to the workers to validate. Nothing is reserved or paid yet."""
    quantity_validate(quantity)
    if len(csv_text) > MAX_CSV_CHARS:
        raise AppError(E.BAD_LIST, gettext("名单文件太大"), fields={"csv": [gettext("名单文件太大")]})
    try:
        rows = _parse(csv_text)
    except csv.Error as exc:
        msg = gettext("无法读取 CSV：%(error)s") % {"error": exc}
        raise AppError(E.BAD_LIST, msg, fields={"csv": [msg]}) from exc
    if not rows:
        raise AppError(E.BAD_LIST, gettext("名单是空的"), fields={"csv": [gettext("名单是空的")]})
    if len(rows) > settings.BULK_MAX_ROWS:
        msg = gettext("名单最多 %(max)s 行") % {"max": settings.BULK_MAX_ROWS}
        raise AppError(E.BAD_LIST, msg, fields={"csv": [msg]})
    # The SKU itself must be giftable; stock is checked for real when the sender confirms.
    sku = sku_check_giftable(sku_id=sku_id, units=quantity)
    with transaction.atomic():
        order = BulkOrder.objects.create(
            sender=sender,
            sku=sku,
            quantity=quantity,
            message=message.strip()[:200],
            csv_text=csv_text,
            total_rows=len(rows),
        )
        enqueue("campaigns.tasks.validate_bulk_chunk", order.pk, 0)
    return order


def _digest(kind: str, value: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def _contact(raw: str) -> tuple[str, str] | None:
    """(kind, normalised value), or None when it is neither a mainland mobile nor an email."""
    phone = raw.replace(" ", "").replace("-", "")
    if phone.startswith("+86"):
        phone = phone[3:]
    if phone_is_valid(phone):
        return BulkRecipient.ContactKind.PHONE, phone
    if "@" in raw:
        email = raw.strip().lower()
        try:
            validate_email(email)
        except ValidationError:
            return None
        return BulkRecipient.ContactKind.EMAIL, email
    return None


def _check_row(cells: list[str]) -> tuple[dict, list[str]]:
    name = cells[0] if cells else ""
    raw_contact = cells[1] if len(cells) > 1 else ""
    note = cells[2] if len(cells) > 2 else ""
    reasons = []
    if not name:
        reasons.append("缺少姓名")
    elif len(name) > NAME_MAX:
        reasons.append(f"姓名超过 {NAME_MAX} 字")
    contact = None
    if not raw_contact:
        reasons.append("缺少手机号或邮箱")
    else:
        contact = _contact(raw_contact)
        if contact is None:
            reasons.append("手机号或邮箱格式不对")
    if len(note) > NOTE_MAX:
        reasons.append(f"备注超过 {NOTE_MAX} 字")
    if len(cells) > 3 and any(cells[3:]):
        reasons.append("多余的列（只需要 姓名, 手机号或邮箱, 备注）")
    fields = {"name": name[:60], "note": note[:200]}
    if contact is not None:
        kind, value = contact
        fields.update(
            contact=value,
            contact_kind=kind,
            contact_masked=mask_phone(value) if kind == BulkRecipient.ContactKind.PHONE else mask_email(value),
            contact_digest=_digest(kind, value),
        )
    return fields, reasons


def bulk_rows_check_chunk(*, order_id: int, start: int) -> bool:
    """Validate rows [start, start + chunk) of a list; enqueue the next chunk. Safe to run twice:
    a chunk runs only when the order's progress stands exactly at its start."""
    size = settings.BULK_CHUNK_SIZE
    with transaction.atomic():
        order = BulkOrder.objects.select_for_update().filter(pk=order_id).first()
        if order is None or order.stage != Stage.VALIDATING or order.processed_rows != start:
            return False
        chunk = _parse(order.csv_text)[start : start + size]
        checked = [(line, *_check_row(cells)) for line, cells in chunk]
        digests = {f["contact_digest"] for _, f, reasons in checked if not reasons}
        first_seen = dict(
            BulkRecipient.objects.filter(order=order, error="", contact_digest__in=digests).values_list(
                "contact_digest", "row_number"
            )
        )
        rows, valid = [], 0
        for line, fields, reasons in checked:
            digest = fields.get("contact_digest")
            if not reasons and digest in first_seen:
                reasons.append(f"与第 {first_seen[digest]} 行的联系方式重复")
            if not reasons:
                first_seen[digest] = line
                valid += 1
            rows.append(BulkRecipient(order=order, row_number=line, error="；".join(reasons)[:300], **fields))
        BulkRecipient.objects.bulk_create(rows, batch_size=1000)
        order.processed_rows += len(chunk)
        order.valid_rows += valid
        order.invalid_rows += len(chunk) - valid
        done = order.processed_rows >= order.total_rows
        if done:
            bulk_order_move(order, Stage.VALIDATED)
        order.save(update_fields=["processed_rows", "valid_rows", "invalid_rows", "stage", "updated_at"])
        if not done:
            enqueue("campaigns.tasks.validate_bulk_chunk", order_id, order.processed_rows)
    return True


def bulk_order_get_for_sender(*, order_id: int, user) -> BulkOrder:
    order = (
        BulkOrder.objects.select_related("sku__product", "gift__payment")
        .filter(pk=order_id, sender_id=getattr(user, "pk", None))
        .first()
    )
    if order is None:
        raise NotFound(gettext("名单不存在"))
    return order


def bulk_progress(*, order: BulkOrder) -> dict:
    """The small JSON the page's progress bar polls."""
    if order.stage == Stage.VALIDATING:
        phase, done, total = "validating", order.processed_rows, order.total_rows
    elif order.stage in (Stage.SENDING, Stage.SENT):
        phase, done, total = "sending", order.links_sent, order.valid_rows
    else:
        phase, done, total = order.stage, order.total_rows, order.total_rows
    return {
        "id": order.pk,
        "stage": order.stage,
        "phase": phase,
        "done": done,
        "total": total,
        "percent": 100 if not total else min(100, done * 100 // total),
        "total_rows": order.total_rows,
        "processed_rows": order.processed_rows,
        "valid_rows": order.valid_rows,
        "invalid_rows": order.invalid_rows,
        "links_sent": order.links_sent,
        "gift_id": order.gift_id,
        "amount_fen": order.valid_rows * order.quantity * order.sku.price_fen if order.gift_id is None else None,
    }


def bulk_errors(*, order: BulkOrder):
    """The refused rows, in file order: line number, the name typed, the reasons."""
    return order.rows.exclude(error="").order_by("row_number").values("row_number", "name", "error")


# ----- one payment for all -----


def bulk_checkout(*, order: BulkOrder, sender) -> Gift:
    """One gift with a slot per valid row, and one prepay order. Repeating it returns the same gift."""
    with transaction.atomic():
        locked = BulkOrder.objects.select_for_update().get(pk=order.pk)
        if locked.sender_id != sender.pk:
            raise NotFound(gettext("名单不存在"))
        if locked.gift_id is not None:
            return Gift.objects.get(pk=locked.gift_id)
        if locked.stage != Stage.VALIDATED:
            raise AppError(E.LIST_NOT_READY, gettext("名单还在校验中，请稍候"))
        if locked.valid_rows == 0:
            raise AppError(E.NO_VALID_ROWS, gettext("名单里没有可以送出的行"))
        sku = sku_check_giftable(sku_id=locked.sku_id, units=locked.valid_rows * locked.quantity)
        gift, slots = gift_open(
            sender=sender,
            sku=sku,
            mode=Gift.Mode.BULK,
            recipients=locked.valid_rows,
            quantity=locked.quantity,
            message=locked.message,
        )
        rows = list(BulkRecipient.objects.filter(order=locked, error="").order_by("row_number").only("pk"))
        for row, slot in zip(rows, slots, strict=True):
            row.slot_id = slot.pk
        BulkRecipient.objects.bulk_update(rows, ["slot"], batch_size=1000)
        locked.gift = gift
        bulk_order_move(locked, Stage.ORDERED)
        locked.csv_text = ""  # the rows hold what is needed; drop the raw upload
        locked.save(update_fields=["gift", "stage", "csv_text", "updated_at"])
    order.gift, order.stage = gift, locked.stage
    return gift


# ----- personal links -----


def bulk_links_start(*, gift: Gift) -> None:
    """Called when a bulk gift is paid: workers start sending the personal links."""
    order = BulkOrder.objects.select_for_update().filter(gift=gift).first()
    if order is not None and order.stage == Stage.ORDERED:
        bulk_order_move(order, Stage.SENDING)
        order.save(update_fields=["stage", "updated_at"])
        enqueue("campaigns.tasks.send_bulk_links", order.pk)


def claim_url(row: BulkRecipient) -> str:
    return settings.SITE_URL.rstrip("/") + row.get_absolute_url()


def contact_send(*, row: BulkRecipient, subject: str, text: str, template: str, params: dict[str, str]) -> bool:
    """Reach a list recipient on the phone or email the sender typed (they may have no account): the
    email gets `subject` and `text`, the phone the SMS `template` with `params` (giftshop.sms).
    False when the SMS provider refused the message for good (a number that is not a mobile, a
    template not approved): that is recorded in the gift's audit trail and not tried again. A
    provider that is down raises SmsUnavailable, and the worker retries the job."""
    if row.contact_kind == BulkRecipient.ContactKind.EMAIL:
        send_mail(subject, text, None, [row.contact])
        return True
    try:
        sms_sender().send(phone=row.contact, template=template, params=params)
    except SmsRejected as exc:
        log.error("bulk row %s: sms %s to %s refused for good (%s)", row.pk, template, row.contact_masked, exc.code)
        if row.slot_id is not None:
            message_refused_event(slot=row.slot, channel="sms", template=template, code=exc.code)
        return False
    return True


def _send_link(row: BulkRecipient, gift: Gift, *, reminder: bool = False) -> bool:
    sender = gift.sender.get_full_name() or gift.sender.username
    product = gift.sku.product.title
    params = {"name": row.name[:20], "sender": sender[:20], "product": product[:20], "token": row.token}
    if reminder:
        subject = f"{row.name}，{sender} 送你的礼物即将过期"
        text = f"{row.name}，{sender} 送你的礼物「{product}」即将过期，请尽快填写地址收下：{claim_url(row)}"
    else:
        subject = f"{sender} 送你一份礼物"
        text = f"{row.name}，{sender} 送你一份礼物「{product}」，打开链接填写地址即可收下：{claim_url(row)}"
    template = "gift_reminder" if reminder else "gift_link"
    return contact_send(row=row, subject=subject, text=text, template=template, params=params)


def bulk_links_deliver_chunk(*, order_id: int) -> bool:
    """Send the next chunk of personal links; enqueue the next chunk. Returns False when nothing was left."""
    size = settings.BULK_CHUNK_SIZE
    with transaction.atomic():
        order = BulkOrder.objects.select_for_update(of=("self",)).select_related("gift__sender", "gift__sku__product")
        order = order.filter(pk=order_id, stage=Stage.SENDING).first()
        if order is None:
            return False
        rows = list(
            BulkRecipient.objects.filter(order=order, slot__isnull=False, link_sent_at__isnull=True).order_by(
                "row_number"
            )[:size]
        )
        now = timezone.now()
        # One job per message: a provider timeout retries that message alone, never the chunk.
        enqueue_many("campaigns.tasks.send_bulk_message", [(row.pk, MESSAGE_LINK) for row in rows])
        BulkRecipient.objects.filter(pk__in=[r.pk for r in rows]).update(link_sent_at=now)
        order.links_sent = F("links_sent") + len(rows)
        more = len(rows) == size
        if not more:
            bulk_order_move(order, Stage.SENT)
        order.save(update_fields=["links_sent", "stage", "updated_at"])
        if more:
            enqueue("campaigns.tasks.send_bulk_links", order_id)
    return bool(rows)


def bulk_link_resend(*, gift: Gift, slot_id: int) -> BulkRecipient:
    """The sender sends a recipient their link again: at most once per interval per slot.
    `gift` comes from the sender's own access check (gift_get_for_sender)."""
    row = BulkRecipient.objects.select_related("slot").filter(slot_id=slot_id, slot__gift_id=gift.pk).first()
    if row is None:
        raise NotFound(gettext("找不到这位收礼人"))
    sender = gift.sender
    if gift.status not in GIFT_CLAIMABLE or row.slot.status != SlotStatus.UNCLAIMED:
        raise AppError(GE.NOT_CLAIMABLE, gettext("这份礼物已不需要提醒"))
    now = timezone.now()
    interval = settings.BULK_LINK_RESEND_INTERVAL
    with transaction.atomic():
        sent = BulkRecipient.objects.filter(
            Q(link_sent_at__isnull=True) | Q(link_sent_at__lte=now - interval), pk=row.pk
        ).update(link_sent_at=now, code_attempts=0, code_hash="")  # the sender vouches: a fresh start
        if not sent:
            minutes = int(interval.total_seconds() // 60)
            raise AppError(
                E.TOO_SOON, gettext("同一位收礼人的链接每 %(minutes)s 分钟只能重发一次") % {"minutes": minutes}
            )
        link_resent_event(slot=row.slot, actor=sender)
        enqueue("campaigns.tasks.send_bulk_message", row.pk, MESSAGE_LINK)
    row.link_sent_at = now
    return row


def bulk_remind(*, slot_id: int) -> bool:
    """The expiry reminder for a list recipient who has not verified yet: to the phone or email."""
    row_id = BulkRecipient.objects.filter(slot_id=slot_id).values_list("pk", flat=True).first()
    if row_id is None:
        return False
    enqueue("campaigns.tasks.send_bulk_message", row_id, MESSAGE_REMINDER)
    return True


def bulk_contact_reach(*, row_id: int, kind: str) -> bool:
    """The worker's half of every message to a list recipient (link, reminder, one-time code).
    A code is sent only while it is the row's current one and has not expired."""
    row = (
        BulkRecipient.objects.select_related("slot__gift__sender", "slot__gift__sku__product")
        .filter(pk=row_id, slot__isnull=False)
        .first()
    )
    if row is None:
        return False
    if kind == MESSAGE_CODE:
        if row.code_sent_at is None or row.code_expires_at is None or row.code_expires_at <= timezone.now():
            return False
        minutes = int(settings.BULK_CODE_TTL.total_seconds() // 60)
        code = _code_value(row.token, row.code_sent_at)
        text = f"你的领礼物验证码是 {code}，{minutes} 分钟内有效。不要告诉别人。"
        params = {"code": code, "minutes": str(minutes)}
        return contact_send(row=row, subject="领取礼物验证码", text=text, template="gift_code", params=params)
    return _send_link(row, row.slot.gift, reminder=kind == MESSAGE_REMINDER)


# ----- the recipient: prove you are the named person, then accept -----


def bulk_row_get(*, token: str) -> BulkRecipient:
    """The row behind a personal link; unpaid, cancelled and refused rows look like missing ones."""
    row = (
        BulkRecipient.objects.select_related("slot__gift__sender", "slot__gift__sku__product__shop", "slot__sku")
        .filter(token=token, slot__isnull=False)
        .exclude(slot__gift__status__in=GIFT_UNPAID)
        .first()
    )
    if row is None:
        raise NotFound(gettext("礼物不存在"))
    return row


def bulk_open(*, row: BulkRecipient) -> None:
    if row.slot.opened_at is None:
        Slot.objects.filter(pk=row.slot_id, opened_at__isnull=True).update(opened_at=timezone.now())


def _code_value(token: str, sent_at) -> str:
    """The one-time code, derived from the link token and the moment it was issued with the secret
    key: the worker that sends it can compute it again, so no job, log or column ever holds it."""
    stamp = int(sent_at.timestamp() * 1_000_000)
    digest = hmac.new(settings.SECRET_KEY.encode(), f"bulk-code-value:{token}:{stamp}".encode(), hashlib.sha256)
    return f"{int.from_bytes(digest.digest()[:8], 'big') % 10**6:06d}"


def _code_hash(token: str, code: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"bulk-code:{token}:{code}".encode(), hashlib.sha256).hexdigest()


def _check_claimable(*, row: BulkRecipient, user) -> bool:
    """True when this account already holds the slot; raises when it may not claim it."""
    slot, gift = row.slot, row.slot.gift
    if gift.sender_id == user.pk:
        raise AppError(GE.NOT_YOURS, gettext("不能领取自己送出的礼物"))
    if slot.recipient_id == user.pk:
        return True
    if slot.recipient_id is not None:
        raise AppError(GE.TAKEN_BY_OTHER, gettext("礼物已被收礼人本人领取"))
    if slot.status != SlotStatus.UNCLAIMED:
        raise AppError(GE.NOT_CLAIMABLE, gettext("这份礼物已不能领取"))
    if (gift.expires_at and gift.expires_at <= timezone.now()) or gift.status not in GIFT_CLAIMABLE:
        raise AppError(GE.EXPIRED, gettext("礼物已过期"))
    return False


def bulk_code_send(*, row: BulkRecipient, user) -> bool:
    """Send a one-time code to the named phone or email. False when this account is already verified."""
    if _check_claimable(row=row, user=user):
        return False
    now = timezone.now()
    code = _code_value(row.token, now)
    with transaction.atomic():
        sent = BulkRecipient.objects.filter(
            Q(code_sent_at__isnull=True) | Q(code_sent_at__lte=now - settings.BULK_CODE_RESEND_AFTER), pk=row.pk
        ).update(
            code_hash=_code_hash(row.token, code),
            code_sent_at=now,
            code_expires_at=now + settings.BULK_CODE_TTL,
            # code_attempts stays: wrong tries count per link, so asking for a new code every
            # minute does not buy another BULK_CODE_MAX_ATTEMPTS guesses (bulk_link_resend resets).
        )
        if not sent:
            raise AppError(E.TOO_SOON, gettext("验证码已发送，请稍后再试"))
        enqueue("campaigns.tasks.send_bulk_message", row.pk, MESSAGE_CODE)
    return True


def bulk_code_verify(*, row: BulkRecipient, user, code: str) -> Slot:
    """Check the one-time code; on success the slot belongs to this account from now on."""
    code = (code or "").strip()
    outcome = None
    with transaction.atomic():
        locked = BulkRecipient.objects.select_for_update(of=("self",)).select_related("slot__gift").get(pk=row.pk)
        if _check_claimable(row=locked, user=user):
            return locked.slot
        now = timezone.now()
        if not locked.code_hash or locked.code_expires_at is None or locked.code_expires_at <= now:
            raise AppError(
                E.CODE_EXPIRED,
                gettext("验证码已失效，请重新获取"),
                fields={"code": [gettext("验证码已失效，请重新获取")]},
            )
        if locked.code_attempts >= settings.BULK_CODE_MAX_ATTEMPTS:
            raise AppError(E.TOO_MANY_ATTEMPTS, gettext("错误次数过多，请联系送礼人重新发送链接"))
        if not hmac.compare_digest(_code_hash(locked.token, code), locked.code_hash):
            locked.code_attempts += 1
            locked.save(update_fields=["code_attempts"])
            outcome = "bad"
        else:
            _bind(locked, user, now)
    if outcome == "bad":  # raised after commit so the failed attempt is counted
        raise AppError(E.BAD_CODE, gettext("验证码不正确"), fields={"code": [gettext("验证码不正确")]})
    return Slot.objects.select_related("sku").get(pk=row.slot_id)


def _bind(locked: BulkRecipient, user, now) -> None:
    """The named person proved it: the slot is this account's from now on."""
    try:
        with transaction.atomic():
            Slot.objects.filter(pk=locked.slot_id, recipient__isnull=True).update(
                recipient=user, taken_at=now, opened_at=Coalesce("opened_at", Value(now))
            )
    except IntegrityError as exc:
        raise AppError(GE.ALREADY_TAKEN_BY_YOU, gettext("你的账号已经领过这份礼物中的一份")) from exc
    locked.code_hash, locked.verified_at = "", now
    locked.save(update_fields=["code_hash", "verified_at"])
    bulk_verified_event(gift_id=locked.slot.gift_id, slot_id=locked.slot_id, actor=user)


def bulk_verify_by_phone(*, row: BulkRecipient, user) -> bool:
    """A link sent to a mobile number, opened by an account that proved that very number with a
    sign-in code (accounts.services.codes): no second code, the slot is theirs. False otherwise."""
    if row.contact_kind != BulkRecipient.ContactKind.PHONE or not getattr(user, "is_authenticated", False):
        return False
    phone = phone_of(user)
    if phone is None or not phone.verified or phone.number != row.contact:
        return False
    with transaction.atomic():
        locked = BulkRecipient.objects.select_for_update(of=("self",)).select_related("slot__gift").get(pk=row.pk)
        try:
            if _check_claimable(row=locked, user=user):
                return True
        except AppError:
            return False  # the card shows why (taken, expired)
        _bind(locked, user, timezone.now())
    return True


def bulk_slot_for_accept(*, gift: Gift, user, token: str = "") -> Slot:
    """For claim.slot_accept / slot_decline: the slot behind a personal link (or this account's
    verified slot), locked. Refused until the one-time code bound it to this account."""
    qs = Slot.objects.select_for_update(of=("self",)).select_related("sku").filter(gift=gift)
    slot = qs.filter(bulk_recipient__token=token).first() if token else qs.filter(recipient=user).first()
    if slot is None and token:
        raise NotFound(gettext("礼物不存在"))
    if slot is None or slot.recipient_id is None:
        raise AppError(E.CODE_REQUIRED, gettext("请先用发到你手机或邮箱的验证码确认身份"))
    if slot.recipient_id != user.pk:
        raise AppError(GE.NOT_YOURS, gettext("这份礼物是送给另一位朋友的"))
    return slot


def bulk_card(*, row: BulkRecipient, user) -> dict:
    """The personal gift card: who it is for (as the sender typed it), never anyone else's data."""
    slot, gift = row.slot, row.slot.gift
    sender = gift.sender
    authenticated = getattr(user, "is_authenticated", False)
    return {
        "sender": sender.get_full_name() or sender.username,
        "message": gift.message,
        "for_name": row.name,
        "contact_kind": row.contact_kind,
        "contact_masked": row.contact_masked,
        "product": product_card(gift.sku, shop_name=gift.shop.name),
        "paid_sku": {"id": gift.sku_id, "label": gift.sku.label if gift.sku.attributes else ""},
        "quantity": gift.quantity,
        "sku": {"id": slot.sku_id, "label": slot.sku.label},
        "status": slot.status,
        "expires_at": gift.expires_at,
        "verified": authenticated and slot.recipient_id == user.pk,
        "taken_by_other": slot.recipient_id is not None and (not authenticated or slot.recipient_id != user.pk),
        "code_sent": row.code_sent_at is not None and row.code_expires_at and row.code_expires_at > timezone.now(),
    }
