"""Claim in one step on the card: an anonymous recipient proves a phone number with an SMS code on
the claim page itself (no sign-up, no password) and goes on to the address; named, group and bulk gifts."""

import pytest
from django.test import Client

from accounts.models import Phone
from campaigns.models import BulkRecipient
from campaigns.services.bulk import bulk_checkout, bulk_order_create
from gifts.models import Slot
from tests.conftest import ADDRESS, api_for, last_code, pay

PHONE = "13512345678"


@pytest.fixture
def new_visitor(db, django_capture_on_commit_callbacks):
    """Anonymous browsers; on-commit work (the SMS job, the claim job) runs as in production."""

    def _new():
        c = Client()
        original = c.post

        def post(*args, **kwargs):
            with django_capture_on_commit_callbacks(execute=True):
                return original(*args, **kwargs)

        c.post = post
        return c

    return _new


@pytest.fixture
def visitor(new_visitor):
    return new_visitor()


def sign_in_on_card(client, path: str, sms, phone: str = PHONE):
    page = client.post(path, {"action": "phone_code", "phone": phone})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-test="envelope"' in html  # still the blue card
    assert f"验证码已发送至 {phone[:3]}****{phone[-4:]}" in html
    r = client.post(path, {"action": "phone_login", "code": last_code(sms, phone)})
    assert r.status_code == 302 and r["Location"] == path
    return r


def test_anonymous_recipient_claims_in_one_place(visitor, make_gift, sms):
    gift = make_gift()
    path = gift.claim_path()
    html = visitor.get(path).content.decode()
    assert 'data-state="sign_in"' in html and 'name="phone"' in html and "获取验证码" in html
    assert "注册新账号" not in html
    sign_in_on_card(visitor, path, sms)
    html = visitor.get(path).content.decode()
    assert 'data-state="fill_address"' in html
    r = visitor.post(path, {"action": "accept", **ADDRESS})
    assert r.status_code == 302
    slot = Slot.objects.get(gift=gift)
    assert slot.recipient == Phone.objects.get(number=PHONE).user
    assert slot.status == "to_ship"
    assert 'data-state="accepted"' in visitor.get(path).content.decode()


def test_a_wrong_code_stays_on_the_card_with_a_message(visitor, make_gift, sms):
    gift = make_gift()
    path = gift.claim_path()
    visitor.post(path, {"action": "phone_code", "phone": PHONE})
    code = last_code(sms, PHONE)
    page = visitor.post(path, {"action": "phone_login", "code": "000000" if code != "000000" else "111111"})
    html = page.content.decode()
    assert page.status_code == 200 and 'data-test="envelope"' in html
    assert "验证码不正确" in html and 'data-state="sign_in"' in html
    assert not Phone.objects.exists()


def test_asking_too_often_on_the_card_is_429_with_retry_after(visitor, make_gift, sms):
    gift = make_gift()
    visitor.post(gift.claim_path(), {"action": "phone_code", "phone": PHONE})
    page = visitor.post(gift.claim_path(), {"action": "phone_code", "phone": PHONE})
    assert page.status_code == 429 and int(page["Retry-After"]) >= 1
    html = page.content.decode()
    assert 'data-test="envelope"' in html and "验证码已发送，请稍后再重新获取" in html


def test_a_bad_number_is_a_field_error_on_the_card(visitor, make_gift):
    gift = make_gift()
    page = visitor.post(gift.claim_path(), {"action": "phone_code", "phone": "1234"})
    assert page.status_code == 200 and "请输入 11 位中国大陆手机号" in page.content.decode()


def test_a_gift_named_by_phone_goes_only_to_that_number(visitor, new_visitor, make_gift, sms):
    gift = make_gift(recipient_phone=PHONE)
    path = gift.claim_path()
    # Someone else with the link signs in with their own number: not theirs.
    stranger = new_visitor()
    stranger.post(path, {"action": "phone_code", "phone": "13700000000"})
    stranger.post(path, {"action": "phone_login", "code": last_code(sms, "13700000000")})
    assert 'data-state="not_yours"' in stranger.get(path).content.decode()
    # The named number proves itself with the code and accepts.
    sign_in_on_card(visitor, path, sms)
    assert 'data-state="fill_address"' in visitor.get(path).content.decode()
    visitor.post(path, {"action": "accept", **ADDRESS})
    owner = Phone.objects.get(number=PHONE)
    assert owner.verified and Slot.objects.get(gift=gift).recipient == owner.user


def test_naming_a_number_that_already_has_an_account_names_that_account(make_gift, visitor, sms):
    visitor.post("/accounts/login/", {"action": "phone_code", "phone": PHONE})
    visitor.post("/accounts/login/", {"action": "phone_login", "code": last_code(sms, PHONE)})
    existing = Phone.objects.get(number=PHONE).user
    gift = make_gift(recipient_username="135 1234 5678")  # a number typed in the username field
    assert gift.named_recipient == existing


def test_the_api_names_a_recipient_by_phone(db, sender, sku, django_capture_on_commit_callbacks):
    api = api_for(sender)
    r = api.post("/api/v1/gifts/", {"sku_id": sku.pk, "mode": "single", "recipient_phone": "12345"}, format="json")
    assert r.status_code == 400 and r.data["code"] == "bad_phone" and "recipient_phone" in r.data["fields"]
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post("/api/v1/gifts/", {"sku_id": sku.pk, "mode": "single", "recipient_phone": PHONE}, format="json")
    assert r.status_code == 201, r.content
    r = api.post(
        "/api/v1/gifts/", {"sku_id": sku.pk, "mode": "group", "recipients": 2, "recipient_phone": PHONE}, format="json"
    )
    assert r.status_code == 400 and r.data["code"] == "bad_recipients"


def test_group_gift_one_slot_per_verified_account(visitor, make_gift, sms):
    gift = make_gift(mode="group", recipients=2)
    path = gift.claim_path()
    sign_in_on_card(visitor, path, sms)
    assert 'data-state="grab"' in visitor.get(path).content.decode()
    visitor.post(path, {"action": "grab"})
    visitor.post(path, {"action": "grab"})
    user = Phone.objects.get(number=PHONE).user
    assert Slot.objects.filter(gift=gift, recipient=user).count() == 1


def test_bulk_link_signing_in_with_the_listed_number_is_the_proof(
    visitor, django_capture_on_commit_callbacks, sender, sku, sms
):
    with django_capture_on_commit_callbacks(execute=True):
        order = bulk_order_create(sender=sender, sku_id=sku.pk, csv_text=f"鲍勃,{PHONE},")
    order.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        gift = bulk_checkout(order=order, sender=sender)
    with django_capture_on_commit_callbacks(execute=True):
        pay(gift)
    row = BulkRecipient.objects.get(slot__gift=gift)
    path = f"/b/{row.token}/"
    html = visitor.get(path).content.decode()
    assert 'data-state="sign_in"' in html and "135****5678" in html and PHONE not in html
    sign_in_on_card(visitor, path, sms)
    html = visitor.get(path).content.decode()
    assert 'data-state="fill_address"' in html  # no second code, no registration
    visitor.post(path, {"action": "accept", **ADDRESS})
    slot = Slot.objects.get(pk=row.slot_id)
    assert slot.recipient == Phone.objects.get(number=PHONE).user and slot.status == "to_ship"


def test_bulk_link_with_another_number_still_needs_the_listed_ones_code(
    visitor, django_capture_on_commit_callbacks, sender, sku, sms
):
    with django_capture_on_commit_callbacks(execute=True):
        order = bulk_order_create(sender=sender, sku_id=sku.pk, csv_text=f"鲍勃,{PHONE},")
    order.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        gift = bulk_checkout(order=order, sender=sender)
    with django_capture_on_commit_callbacks(execute=True):
        pay(gift)
    row = BulkRecipient.objects.get(slot__gift=gift)
    path = f"/b/{row.token}/"
    sign_in_on_card(visitor, path, sms, phone="13700000000")
    assert 'data-state="verify"' in visitor.get(path).content.decode()
    assert Slot.objects.get(pk=row.slot_id).recipient_id is None
