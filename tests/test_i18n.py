"""Simplified Chinese by default, English through Django's i18n; money as ¥ with two decimals; times in Shanghai."""

import datetime as dt
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from gifts.models import Gift, Notification
from shops.eligibility import OUT_OF_STOCK, REASON_TEXT, sku_eligibility
from shops.templatetags.money import yuan
from tests.factories import SkuFactory

pytestmark = pytest.mark.django_db

EN_COOKIE = {settings.LANGUAGE_COOKIE_NAME: "en"}


def _get(client, path, *, english=False, accept_language=None):
    if english:
        client.cookies.load(EN_COOKIE)
    headers = {"HTTP_ACCEPT_LANGUAGE": accept_language} if accept_language else {}
    response = client.get(path, **headers)
    assert response.status_code == 200, path
    return response.content.decode()


def test_home_page_is_chinese_by_default(client, sku):
    body = _get(client, "/")
    assert '<html lang="zh-hans">' in body
    assert "挑一份礼物，送给朋友" in body and "Pick a gift for a friend" not in body


def test_home_page_is_english_when_the_language_cookie_says_en(client, sku):
    body = _get(client, "/", english=True)
    assert '<html lang="en">' in body
    assert "Pick a gift for a friend" in body and "挑一份礼物，送给朋友" not in body
    assert "Can be sent as a gift" in body


def test_product_page_offers_send_to_a_friend_in_english_from_accept_language(client, sku):
    path = sku.product.get_absolute_url()
    chinese = _get(client, path)
    assert "送给朋友" in chinese and "Send to a friend" not in chinese
    english = _get(client, path, accept_language="en-GB,en;q=0.9")
    assert "Send to a friend" in english and "送给朋友" not in english


def test_checkout_page_switches_to_english(client, sender, sku):
    client.force_login(sender)
    path = f"/products/{sku.product.pk}/gift/"
    chinese = _get(client, path)
    assert "去支付" in chinese and "每人份数" in chinese
    english = _get(client, path, english=True)
    assert "Go to payment" in english and "Units per person" in english
    assert "去支付" not in english and "每人份数" not in english


def test_claim_page_switches_to_english(client, make_gift, recipient):
    gift = make_gift()
    client.force_login(recipient)
    chinese = _get(client, gift.claim_path())
    assert "填写收货地址" in chinese and "收下礼物" in chinese
    english = _get(client, gift.claim_path(), english=True)
    assert "Enter your delivery address" in english and "Accept the gift" in english
    assert "alice sent you a gift" in english
    assert "填写收货地址" not in english and "收下礼物" not in english


def test_accepted_gift_shows_its_progress_steps_in_english(client, make_gift, recipient, address):
    from gifts.services.claim import slot_accept

    gift = make_gift()
    slot_accept(gift=gift, user=recipient, address=address)
    client.force_login(recipient)
    english = _get(client, gift.claim_path(), english=True)
    assert "You accepted this gift" in english
    steps = re.search(r'<ol class="steps".*?</ol>', english, re.S).group(0)
    assert "Accepted" in steps and "Delivered" in steps and "已收下" not in steps


def test_language_switcher_posts_to_set_language_and_sticks(client, sku):
    body = _get(client, "/")
    assert 'action="/i18n/setlang/"' in body and 'name="language" value="en"' in body
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302 and response.url == "/"
    assert "Pick a gift for a friend" in client.get("/").content.decode()
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert "挑一份礼物，送给朋友" in client.get("/").content.decode()


def test_eligibility_reason_is_translated_into_the_active_language(client):
    sku = SkuFactory(stock=0)
    assert sku_eligibility(sku).reason_texts == ["暂时缺货"]
    with translation.override("en"):
        assert sku_eligibility(sku).reason_texts == ["Temporarily out of stock"]
        # Callers join the texts, so each one must read as a plain str.
        assert "；".join(REASON_TEXT[r] for r in [OUT_OF_STOCK]) == "Temporarily out of stock"
    english = _get(client, sku.product.get_absolute_url(), english=True)
    assert "Temporarily out of stock" in english and "暂时缺货" not in english


@pytest.mark.parametrize(
    "fen, shown",
    [(123450, "¥1,234.50"), (5, "¥0.05"), (0, "¥0.00"), (-1999, "-¥19.99"), (100000000, "¥1,000,000.00")],
)
def test_yuan_filter_prints_yuan_with_two_decimals(fen, shown):
    assert yuan(fen) == shown


def test_prices_on_the_product_page_use_the_yuan_filter_in_both_languages(client):
    sku = SkuFactory(price_fen=123450, original_price_fen=150000)
    for english in (False, True):
        body = _get(client, sku.product.get_absolute_url(), english=english)
        assert "¥1,234.50" in body and "¥1,500.00" in body


def test_times_on_pages_are_shown_in_shanghai_time(client, make_gift, sender):
    gift = make_gift()
    # 16:30 UTC on New Year's Day is half past midnight on the 2nd in Shanghai (UTC+8).
    Gift.objects.filter(pk=gift.pk).update(created_at=dt.datetime(2025, 1, 1, 16, 30, tzinfo=dt.UTC))
    client.force_login(sender)
    for english, shown in ((False, "1月2日 00:30"), (True, "Jan 2, 00:30")):
        body = _get(client, "/gifts/", english=english)
        assert shown in body and "16:30" not in body


def test_notifications_are_written_in_chinese_by_default(make_gift, sender):
    make_gift()
    titles = list(Notification.objects.filter(user=sender).values_list("title", flat=True))
    assert any(t.startswith("礼物已支付：") for t in titles), titles


def test_notification_text_is_translated_when_english_is_active(make_gift, sender, recipient):
    from gifts.services.claim import slot_decline

    gift = make_gift()
    with translation.override("en"):
        slot_decline(gift=gift, user=recipient)
    titles = list(Notification.objects.filter(user=sender, kind="declined").values_list("title", flat=True))
    assert titles == ["Your friend declined your gift; the money will be refunded to your original payment method"]


def _po_entries(po: str) -> list[dict[str, str]]:
    """The .po file's entries as {keyword: text}, continuation lines joined (no gettext tools needed)."""
    entries = []
    for block in po.split("\n\n"):
        fields, key = {}, None
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            m = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d\])?) "(.*)"$', line)
            if m:
                key = m.group(1)
                fields[key] = m.group(2)
            elif line.startswith('"') and key:
                fields[key] += line[1:-1]
        if fields.get("msgid"):
            entries.append({k: v.replace('\\"', '"').replace("\\n", "\n") for k, v in fields.items()})
    return entries


def test_english_catalogue_is_complete_and_compiled():
    """Every English string in the .po is filled in, nothing is fuzzy, and the committed .mo carries them all."""
    locale = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES"
    po = (locale / "django.po").read_text(encoding="utf-8")
    assert "#, fuzzy" not in po
    entries = _po_entries(po)
    assert len(entries) > 100
    empty = [e["msgid"] for e in entries if any(v == "" for k, v in e.items() if k.startswith("msgstr"))]
    assert empty == []
    with (locale / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    for e in entries:
        if "msgid_plural" in e:
            assert compiled.ngettext(e["msgid"], e["msgid_plural"], 2) == e["msgstr[1]"]
        elif "msgctxt" in e:
            assert compiled.pgettext(e["msgctxt"], e["msgid"]) == e["msgstr"]
        else:
            assert compiled.gettext(e["msgid"]) == e["msgstr"], e["msgid"]


def test_the_merchant_site_names_models_in_chinese_by_default(client, db):
    from tests.factories import ShopStaffFactory

    client.force_login(ShopStaffFactory().user)
    body = client.get("/merchant/").content.decode()
    assert "收礼订单" in body and "Recipient slots" not in body
