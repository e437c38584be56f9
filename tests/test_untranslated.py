"""One language per page. Every page the browser journeys visit (shop, checkout, cashier, sender's
gift pages and tracker, claim, lottery and bulk cards in each state, inbox, received, after-sales,
account pages, the merchant workbench and its admin, the operator admin with its sandbox buttons,
and forms answered with errors), rendered in zh-Hans and in English by the Django test client over
the demo data, must not show text from the other language:

- in English, no text of the page is a message id of the English catalogue (our msgids are
  Chinese: one shown as is was never translated);
- in zh-Hans, no text is an English message id of the zh_Hans catalogue (model and field names),
  an English field name Django made up from an attribute ("amount fen"), a translation from the
  English catalogue, or an English phrase of several words (a machine message such as "out of range").
"""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.utils import timezone, translation

from campaigns.models import BulkOrder
from fulfilment.models import Shipment
from gifts.models import Gift, Slot
from gifts.services.checkout import gift_create
from gifts.services.claim import AddressInput, slot_accept, slot_decline, slot_grab
from giftshop.apps import project_apps
from sandbox.fast_forward import gift_expire_now, lottery_draw_now
from shops.models import Product, Sku
from tests.conftest import ADDRESS, pay

pytestmark = pytest.mark.django_db(transaction=True)

LOCALE = Path(settings.BASE_DIR) / "locale"
CJK = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"%(\(\w+\))?[sd]|\{\{|\{%")
# English words that belong on a Chinese page: the brand, abbreviations, units, demo SKU names.
ALLOWED_ENGLISH = {"gift", "shop", "giftshop", "english", "switch to english", "api", "csv", "sms", "alipay"}


def _catalogue(language: str) -> dict[str, str]:
    """msgid -> msgstr of a .po file, untranslated entries included (the compiled .mo drops them,
    and an entry nobody translated is exactly what this test looks for)."""
    text = (LOCALE / language / "LC_MESSAGES" / "django.po").read_text()
    out: dict[str, str] = {}
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            head = re.match(r'^(msgid|msgstr(?:\[0\])?|msgid_plural|msgctxt) "(.*)"$', line)
            if head:
                key = head.group(1).replace("[0]", "")
                fields[key] = head.group(2)
            elif line.startswith('"') and key:
                fields[key] += line[1:-1]
        msgid = fields.get("msgid", "").replace('\\"', '"')
        if msgid:
            out[msgid] = fields.get("msgstr", "").replace('\\"', '"')
    return out


class _Text(HTMLParser):
    """The text a person sees or hears: text nodes outside script and style, and the labelling
    attributes (placeholder, aria-label, title, button values)."""

    def __init__(self):
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self._skip += 1
        a = dict(attrs)
        for name in ("placeholder", "aria-label", "title"):
            if a.get(name):
                self.texts.append(a[name])
        if tag == "input" and a.get("type") in ("submit", "button") and a.get("value"):
            self.texts.append(a["value"])

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            text = " ".join(data.split())
            if text:
                self.texts.append(text)


def _texts(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.texts


@pytest.fixture
def world(settings, tmp_path):
    """The demo data plus a gift in every state a page shows."""
    settings.MEDIA_ROOT = str(tmp_path)
    settings.SANDBOX_ENABLED = True
    call_command("load_demo", verbosity=0)
    users = {u.username: u for u in apps.get_model("auth", "User").objects.all()}
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    sku = Sku.objects.filter(product__title="招牌珍珠奶茶 · 两杯装").first()
    address = AddressInput.from_dict(ADDRESS)

    def paid(**kw) -> Gift:
        return pay(gift_create(sender=alice, sku_id=sku.pk, **kw))

    accepted = paid(message="生日快乐")
    slot_accept(gift=accepted, user=bob, address=address)
    group = paid(mode="group", recipients=3, message="下午茶")
    slot_grab(gift=group, user=carol)
    slot_accept(gift=group, user=bob, address=address)
    declined = paid()
    slot_decline(gift=declined, user=carol)
    expired = paid()
    gift_expire_now(gift_id=expired.pk)
    unpaid = gift_create(sender=alice, sku_id=sku.pk)
    cancelled = gift_create(sender=alice, sku_id=sku.pk)
    gift_expire_now(gift_id=cancelled.pk)
    lottery = Gift.objects.get(sender=alice, mode=Gift.Mode.LOTTERY)
    lottery_draw_now(gift_id=lottery.pk)
    bulk = BulkOrder.objects.get(sender=alice)
    parcel = Slot.objects.get(gift=accepted)
    return {
        "users": users,
        "accepted": accepted,
        "group": group,
        "declined": declined,
        "expired": expired,
        "unpaid": unpaid,
        "cancelled": cancelled,
        "lottery": lottery,
        "bulk": bulk,
        "parcel": parcel,
        "product": sku.product,
    }


def _pages(w) -> dict[str, list[tuple[str, str, dict | None]]]:
    """(who, path, POST data or None) for every page of the journeys."""
    products = [p.get_absolute_url() for p in Product.objects.all()]
    product = w["product"]
    sku = product.skus.first()
    gifts = [w[k] for k in ("accepted", "group", "declined", "expired", "lottery")]
    bulk_gift = w["bulk"].gift
    bulk_row = w["bulk"].rows.filter(slot__isnull=False).first()
    shipment = Shipment.objects.get(slot=w["parcel"])
    soon = (timezone.localtime() + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    pages = {
        "anonymous": [
            ("/", None),
            *[(p, None) for p in products],
            ("/accounts/login/", None),
            ("/accounts/password/login/", None),
            ("/accounts/password/login/", {"login": "alice", "password": "wrong"}),
            *[(g.claim_path(), None) for g in gifts],
        ],
        "alice": [
            ("/gifts/", None),
            *[(f"/gifts/{g.pk}/", None) for g in [*gifts, w["cancelled"], bulk_gift]],
            *[(f"/gifts/{g.pk}/tracker/", None) for g in [w["group"], w["lottery"], bulk_gift]],
            (f"/gifts/{w['group'].pk}/card/", None),
            (w["unpaid"].payment.cashier_url, None),
            (f"/products/{product.pk}/gift/", None),
            (f"/products/{product.pk}/gift/", {"sku_id": "", "mode": "single", "recipients": "0", "quantity": "0"}),
            (f"/products/{product.pk}/lottery/", None),
            (f"/products/{product.pk}/lottery/", {"sku_id": sku.pk, "winners": "3", "quantity": "1", "draw_at": soon}),
            (f"/products/{product.pk}/bulk/", None),
            (f"/bulk/{w['bulk'].pk}/", None),
            ("/inbox/", None),
            ("/account/data/", None),
            ("/accounts/password/set/", None),
            ("/accounts/email/", None),
        ],
        "bob": [
            *[(g.claim_path(), None) for g in gifts],
            ("/received/", None),
            (f"/received/{w['parcel'].pk}/after-sales/", None),
            ("/inbox/", None),
        ],
        "carol": [
            (w["group"].claim_path(), None),
            (w["declined"].claim_path(), None),
            (w["lottery"].claim_path(), None),
            *(
                [(f"/b/{bulk_row.token}/", None), (f"/b/{bulk_row.token}/", {"action": "code", "code": "000000"})]
                if bulk_row
                else []
            ),
        ],
        "merchant": [
            ("/merchant/", None),
            ("/merchant/to-ship/", None),
            ("/merchant/exceptions/", None),
            ("/merchant/after-sales/", None),
            ("/merchant/accepted-today/", None),
            (f"/merchant/parcels/{w['parcel'].pk}/", None),
            ("/merchant/catalogue/", None),
            ("/merchant/gifts/slot/", None),
            (f"/merchant/gifts/slot/{w['parcel'].pk}/change/", None),
            ("/merchant/dashboard/", None),
            ("/merchant/shops/product/", None),
            (f"/merchant/shops/product/{product.pk}/change/", None),
        ],
        "admin": [
            ("/admin/", None),
            ("/admin/gifts/gift/", None),
            (f"/admin/gifts/gift/{w['lottery'].pk}/change/", None),
            (f"/admin/gifts/gift/{w['lottery'].pk}/fast-forward/", {"step": "draw"}),
            ("/admin/gifts/slot/", None),
            (f"/admin/gifts/slot/{w['parcel'].pk}/change/", None),
            ("/admin/fulfilment/shipment/", None),
            (f"/admin/fulfilment/shipment/{shipment.pk}/change/", None),
            (f"/admin/fulfilment/shipment/{shipment.pk}/drive/", {"status": "delivered"}),
            ("/admin/payments/payment/", None),
            ("/admin/payments/refund/", None),
            ("/admin/shops/product/", None),
            ("/admin/outbox/job/", None),
        ],
    }
    return pages


def _english_leaks(texts: list[str], msgids: set[str], long_msgids: list[str]) -> list[str]:
    found = []
    for text in texts:
        if not CJK.search(text):
            continue
        if text in msgids:
            found.append(text)
            continue
        found.extend(m for m in long_msgids if m in text)
    return found


def _chinese_leaks(texts: list[str], english_ids: set[str], english_strs: set[str]) -> list[str]:
    found = []
    for text in texts:
        low = text.lower().strip(" :：*")
        if CJK.search(text) or low in ALLOWED_ENGLISH or re.search(r"@|/|\d{6}", text):
            continue
        if low in english_ids or text in english_strs:
            found.append(text)
        elif len(re.findall(r"[A-Za-z]{2,}", text)) >= 2:
            found.append(text)
    return found


def _english_field_names() -> set[str]:
    """Field names Django made up from an attribute because no verbose_name was given, as the
    operator admin would print them on a Chinese page."""
    names = set()
    with translation.override("zh-hans"):
        for model in apps.get_models():
            if model._meta.app_config.name not in project_apps():
                continue
            for field in model._meta.get_fields():
                name = str(getattr(field, "verbose_name", "") or "")
                if name and not CJK.search(name):
                    names.add(name.lower())
            for name in (model._meta.verbose_name, model._meta.verbose_name_plural):
                if not CJK.search(str(name)):
                    names.add(str(name).lower())
    return names


def test_no_page_of_the_journeys_shows_text_of_the_other_language(world):
    en = _catalogue("en")
    zh = _catalogue("zh_Hans")
    chinese_ids = {m for m in en if CJK.search(m)}
    # (an id whose English keeps it on purpose, e.g. an example of Chinese data, is left out)
    long_ids = sorted(m for m in chinese_ids if len(m) >= 5 and not PLACEHOLDER.search(m) and m not in en[m])
    english_ids = {m.lower() for m in zh if re.search("[A-Za-z]", m)} | _english_field_names()
    english_strs = {s for m, s in en.items() if CJK.search(m) and len(s.split()) >= 3}

    problems: list[str] = []
    seen = 0
    for who, entries in _pages(world).items():
        for language in ("zh-hans", "en"):
            client = Client()
            client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
            if who != "anonymous":
                client.force_login(world["users"][who])
            for path, data in entries:
                response = client.post(path, data, follow=True) if data is not None else client.get(path, follow=True)
                if response.status_code != 200:
                    problems.append(f"[{language}] {who} {path}: answered {response.status_code}")
                    continue
                if "html" not in response.get("Content-Type", ""):
                    continue
                seen += 1
                texts = _texts(response.content.decode())
                if language == "en":
                    leaks = _english_leaks(texts, chinese_ids, long_ids)
                else:
                    leaks = _chinese_leaks(texts, english_ids, english_strs)
                for leak in dict.fromkeys(leaks):
                    problems.append(f"[{language}] {who} {path}: {leak!r}")
    assert seen > 100
    assert not problems, f"{len(problems)} untranslated texts:\n" + "\n".join(problems)


@pytest.mark.django_db
def test_the_sign_in_lockout_is_named_in_the_page_language(admin_client):
    """django-axes's admin shows as 登录锁定, not "AXES" and "access attempts"."""
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    page = admin_client.get("/admin/").content.decode()
    assert "登录锁定" in page and "登录失败记录" in page
    assert "Access attempts" not in page and ">Axes<" not in page
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert "Sign-in lockout" in admin_client.get("/admin/").content.decode()
