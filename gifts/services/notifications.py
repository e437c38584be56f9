"""The in-app inbox and email. Each event notifies a person at most once (dedupe_key)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gifts.models import Notification
from giftshop.errors import NotFound
from outbox.jobs import enqueue, enqueue_many


def notify(*, user, kind: str, dedupe_key: str, title: str, body: str = "", link: str = "") -> Notification | None:
    """Record a notification once; email it from a worker after commit. Returns None for a repeat."""
    if user is None:
        return None
    try:
        with transaction.atomic():
            note = Notification.objects.create(
                user=user, kind=kind, dedupe_key=dedupe_key, title=title[:120], body=body, link=link
            )
    except IntegrityError:
        return None
    if user.email:
        enqueue("gifts.tasks.send_notification_email", note.pk)
    return note


def notify_many(*, notes: list[dict]) -> int:
    """`notify` for a batch (user, kind, dedupe_key, title, link): one insert, repeats skipped."""
    created = Notification.objects.bulk_create(
        [Notification(**{**n, "title": n["title"][:120]}) for n in notes if n.get("user") is not None],
        ignore_conflicts=True,
    )
    keys = [n.dedupe_key for n in created]
    to_email = list(
        Notification.objects.filter(dedupe_key__in=keys, emailed_at__isnull=True)
        .exclude(user__email="")
        .values_list("pk", flat=True)
    )
    enqueue_many("gifts.tasks.send_notification_email", [(pk,) for pk in to_email])
    return len(to_email)


def notification_email_deliver(*, notification_id: int) -> bool:
    """Send one notification by email, once."""
    with transaction.atomic():
        note = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(pk=notification_id)
            .first()
        )
        if note is None or note.emailed_at or not note.user.email:
            return False
        link = note.link if not note.link.startswith("/") else settings.SITE_URL.rstrip("/") + note.link
        send_mail(note.title, f"{note.body}\n\n{link}".strip(), None, [note.user.email])
        note.emailed_at = timezone.now()
        note.save(update_fields=["emailed_at"])
    return True


def notification_open(*, user, notification_id: int) -> str:
    """Open one of the account's notices from the inbox: it is read now; where it leads (its link, or
    "" when it has none). NotFound for another account's notice."""
    note = Notification.objects.filter(user=user, pk=notification_id).only("pk", "link").first()
    if note is None:
        raise NotFound(_("消息不存在"))
    notification_mark_read(user=user, notification_id=note.pk)
    return note.link


def notification_mark_read(*, user, notification_id: int | None = None) -> int:
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_id is not None:
        qs = qs.filter(pk=notification_id)
    return qs.update(read_at=timezone.now())
