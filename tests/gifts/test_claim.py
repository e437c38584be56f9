"""The recipient's half (gifts/services/claim.py): grabs and accepts under real concurrency on PostgreSQL."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from gifts.models import Gift, GiftEvent, Notification, ShippingAddress, Slot
from gifts.services.claim import AddressInput, slot_accept, slot_grab, slot_hand_over, slot_thank
from gifts.services.expiry import expire_due
from giftshop.errors import AppError
from payments.models import Refund
from shops.models import Sku
from tests.conftest import ADDRESS
from tests.factories import SkuFactory, UserFactory

User = get_user_model()


def _code(fn, *args, **kwargs) -> str:
    """Run one service call in a worker thread: its outcome as a code; always hand the connection back."""
    try:
        fn(*args, **kwargs)
        return "ok"
    except AppError as exc:
        return exc.code
    finally:
        connection.close()


def _at_once(*calls) -> list[str]:
    """Start each call in its own thread at the same moment; return their outcome codes in order."""
    start = threading.Barrier(len(calls))

    def run(call):
        start.wait()
        fn, kwargs = call
        return _code(fn, **kwargs)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def _refused(fn, **kwargs) -> AppError:
    with pytest.raises(AppError) as info:
        fn(**kwargs)
    return info.value


# ----- races -----


@pytest.mark.django_db(transaction=True)
def test_five_hundred_concurrent_grabs_of_fifty_slots_give_fifty_distinct_accounts_one_each(make_gift):
    gift = make_gift(mode="group", recipients=50)
    assert gift.status == "sent"
    users = User.objects.bulk_create(User(username=f"grabber{i:03d}") for i in range(500))

    with ThreadPoolExecutor(max_workers=32) as pool:
        outcomes = list(pool.map(lambda u: _code(slot_grab, gift=gift, user=u), users))

    assert outcomes.count("ok") == 50
    assert outcomes.count("all_taken") == 450
    winners = {u.pk for u, outcome in zip(users, outcomes, strict=True) if outcome == "ok"}
    taken = list(Slot.objects.filter(gift=gift).values_list("recipient_id", flat=True))
    assert len(taken) == 50 and None not in taken
    assert set(taken) == winners and len(set(taken)) == 50
    assert set(Slot.objects.filter(gift=gift).values_list("status", flat=True)) == {"unclaimed"}


@pytest.mark.django_db(transaction=True)
def test_same_account_grabbing_twice_at_once_gets_one_slot(make_gift):
    gift = make_gift(mode="group", recipients=10)
    users = [UserFactory(username=f"twice{i}") for i in range(5)]
    for user in users:
        outcomes = _at_once((slot_grab, {"gift": gift, "user": user}), (slot_grab, {"gift": gift, "user": user}))
        assert sorted(outcomes) == ["already_taken_by_you", "ok"]
        assert Slot.objects.filter(gift=gift, recipient=user).count() == 1
    assert Slot.objects.filter(gift=gift, recipient__isnull=False).count() == 5


@pytest.mark.django_db(transaction=True)
def test_two_accounts_accepting_one_unnamed_single_gift_at_once_exactly_one_wins(make_gift, recipient, other):
    gift = make_gift()
    address = AddressInput.from_dict(ADDRESS)
    outcomes = _at_once(
        (slot_accept, {"gift": gift, "user": recipient, "address": address}),
        (slot_accept, {"gift": gift, "user": other, "address": address}),
    )
    assert sorted(outcomes) == ["ok", "taken_by_other"]
    winner = recipient if outcomes[0] == "ok" else other
    slot = Slot.objects.get(gift=gift)
    assert slot.recipient == winner and slot.status == "to_ship"
    assert ShippingAddress.objects.filter(slot__gift=gift).count() == 1
    loser = other if winner == recipient else recipient
    err = _refused(slot_accept, gift=gift, user=loser, address=address)
    assert err.code == "taken_by_other" and err.status_code == 409


@pytest.mark.django_db(transaction=True)
def test_group_recipients_accepting_at_once_all_succeed(make_gift):
    """Each accept writes an event row for the gift and then locks the gift to sync its status."""
    address = AddressInput.from_dict(ADDRESS)
    for round_ in range(5):
        gift = make_gift(mode="group", recipients=4)
        users = [UserFactory(username=f"acc{round_}-{i}") for i in range(4)]
        for user in users:
            slot_grab(gift=gift, user=user)
        outcomes = _at_once(*[(slot_accept, {"gift": gift, "user": u, "address": address}) for u in users])
        assert outcomes == ["ok"] * 4
        assert set(Slot.objects.filter(gift=gift).values_list("status", flat=True)) == {"to_ship"}
        assert Gift.objects.get(pk=gift.pk).status == "claimed"


@pytest.mark.django_db(transaction=True)
def test_sku_switch_race_for_the_last_unit_of_the_alternative_does_not_oversell(make_gift, sku, recipient, other):
    alternative = SkuFactory(product=sku.product, stock=1, price_fen=sku.price_fen, original_price_fen=12900)
    gift = make_gift(mode="group", recipients=2, allow_sku_choice=True)
    slot_grab(gift=gift, user=recipient)
    slot_grab(gift=gift, user=other)
    address = AddressInput.from_dict(ADDRESS)
    outcomes = _at_once(
        (slot_accept, {"gift": gift, "user": recipient, "address": address, "sku_id": alternative.pk}),
        (slot_accept, {"gift": gift, "user": other, "address": address, "sku_id": alternative.pk}),
    )
    assert sorted(outcomes) == ["ok", "out_of_stock"]
    assert Sku.objects.get(pk=alternative.pk).stock == 0
    switched = Slot.objects.filter(gift=gift, sku=alternative)
    assert switched.count() == 1 and switched.get().status == "to_ship"
    assert Slot.objects.filter(gift=gift, sku=sku, status="unclaimed").count() == 1
    # Two units reserved at checkout, one given back when the switch was processed.
    assert Sku.objects.get(pk=sku.pk).stock == 99


# ----- who may claim -----


@pytest.mark.django_db
def test_named_gift_refuses_other_accounts_and_accepts_the_named_one(
    make_gift, recipient, other, address, django_capture_on_commit_callbacks
):
    gift = make_gift(recipient_username=recipient.username)
    err = _refused(slot_accept, gift=gift, user=other, address=address)
    assert err.code == "not_yours" and err.status_code == 403
    assert Slot.objects.get(gift=gift).status == "unclaimed"
    with django_capture_on_commit_callbacks(execute=True):
        slot = slot_accept(gift=gift, user=recipient, address=address)
    assert slot.recipient == recipient
    assert Slot.objects.get(gift=gift).status == "to_ship"


@pytest.mark.django_db
def test_sender_cannot_claim_own_single_gift(make_gift, sender, address):
    gift = make_gift()
    err = _refused(slot_accept, gift=gift, user=sender, address=address)
    assert err.code == "not_yours" and err.status_code == 403
    assert Slot.objects.get(gift=gift).recipient is None


@pytest.mark.django_db
def test_sender_cannot_grab_or_accept_own_group_gift(make_gift, sender, address):
    gift = make_gift(mode="group", recipients=3)
    err = _refused(slot_grab, gift=gift, user=sender)
    assert err.code == "not_yours" and err.status_code == 403
    err = _refused(slot_accept, gift=gift, user=sender, address=address)
    assert err.code == "not_yours"
    assert not Slot.objects.filter(gift=gift, recipient__isnull=False).exists()


@pytest.mark.django_db
def test_grab_is_for_group_gifts_only(make_gift, recipient):
    assert _refused(slot_grab, gift=make_gift(), user=recipient).code == "not_group"


@pytest.mark.django_db
def test_grab_refused_once_all_slots_are_taken(make_gift, recipient, other):
    gift = make_gift(mode="group", recipients=2)
    slot_grab(gift=gift, user=recipient)
    assert _refused(slot_grab, gift=gift, user=recipient).code == "already_taken_by_you"
    slot_grab(gift=gift, user=other)
    err = _refused(slot_grab, gift=gift, user=UserFactory(username="late"))
    assert err.code == "all_taken" and err.status_code == 409


# ----- expiry -----


@pytest.mark.django_db
def test_accept_after_the_claim_window_is_refused_as_expired(make_gift, recipient, address):
    gift = make_gift()
    Gift.objects.filter(pk=gift.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    gift.refresh_from_db()
    err = _refused(slot_accept, gift=gift, user=recipient, address=address)
    assert err.code == "expired" and err.status_code == 410
    assert Slot.objects.get(gift=gift).status == "unclaimed"


@pytest.mark.django_db
def test_accept_after_the_expiry_sweep_is_refused_as_expired(
    make_gift, recipient, address, django_capture_on_commit_callbacks
):
    gift = make_gift()
    past = timezone.now() - timedelta(seconds=1)
    Gift.objects.filter(pk=gift.pk).update(expires_at=past)
    Slot.objects.filter(gift=gift).update(expires_at=past)
    with django_capture_on_commit_callbacks(execute=True):
        assert expire_due() == 1
    gift.refresh_from_db()
    assert gift.status in ("expired", "refunded")
    err = _refused(slot_accept, gift=gift, user=recipient, address=address)
    assert err.code == "expired"


@pytest.mark.django_db
def test_grab_after_the_claim_window_is_refused_as_expired(make_gift, recipient):
    gift = make_gift(mode="group", recipients=2)
    Gift.objects.filter(pk=gift.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    gift.refresh_from_db()
    assert _refused(slot_grab, gift=gift, user=recipient).code == "expired"


# ----- choosing another 款式 -----


@pytest.mark.django_db
def test_switching_to_a_pricier_sku_is_refused(make_gift, sku, recipient, address):
    pricier = SkuFactory(product=sku.product, price_fen=sku.price_fen + 1, original_price_fen=20000, stock=10)
    gift = make_gift(allow_sku_choice=True)
    err = _refused(slot_accept, gift=gift, user=recipient, address=address, sku_id=pricier.pk)
    assert err.code == "sku_not_allowed"
    assert Sku.objects.get(pk=pricier.pk).stock == 10
    assert Slot.objects.get(gift=gift).status == "unclaimed"


@pytest.mark.django_db
def test_switching_to_a_sku_of_another_product_is_refused(make_gift, recipient, address):
    elsewhere = SkuFactory(price_fen=100, stock=10)
    gift = make_gift(allow_sku_choice=True)
    err = _refused(slot_accept, gift=gift, user=recipient, address=address, sku_id=elsewhere.pk)
    assert err.code == "sku_not_allowed"


@pytest.mark.django_db
def test_switching_to_a_cheaper_sku_refunds_the_difference_once_processed(
    make_gift, sku, sender, recipient, address, django_capture_on_commit_callbacks
):
    cheaper = SkuFactory(product=sku.product, price_fen=7900, original_price_fen=9900, stock=10)
    gift = make_gift(allow_sku_choice=True, quantity=2)
    assert Sku.objects.get(pk=sku.pk).stock == 98
    with django_capture_on_commit_callbacks(execute=True):
        slot = slot_accept(gift=gift, user=recipient, address=address, sku_id=cheaper.pk)
    slot.refresh_from_db()
    assert slot.sku_id == cheaper.pk and slot.status == "to_ship"
    refund = Refund.objects.get(payment__gift=gift)
    assert refund.reason == "price_difference" and refund.amount_fen == (9900 - 7900) * 2
    assert refund.status == "succeeded" and refund.slot_id == slot.pk
    assert Sku.objects.get(pk=sku.pk).stock == 100
    assert Sku.objects.get(pk=cheaper.pk).stock == 8
    # The worker running twice changes nothing.
    with django_capture_on_commit_callbacks(execute=True):
        assert slot_hand_over(slot_id=slot.pk) is False
    assert Refund.objects.filter(payment__gift=gift).count() == 1
    assert Sku.objects.get(pk=sku.pk).stock == 100
    assert Notification.objects.filter(user=sender, kind="refund").count() == 1


@pytest.mark.django_db
def test_same_price_switch_refunds_nothing(make_gift, sku, recipient, address, django_capture_on_commit_callbacks):
    same = SkuFactory(product=sku.product, price_fen=sku.price_fen, original_price_fen=12900, stock=5)
    gift = make_gift(allow_sku_choice=True)
    with django_capture_on_commit_callbacks(execute=True):
        slot_accept(gift=gift, user=recipient, address=address, sku_id=same.pk)
    assert not Refund.objects.filter(payment__gift=gift).exists()
    assert Sku.objects.get(pk=same.pk).stock == 4 and Sku.objects.get(pk=sku.pk).stock == 100


@pytest.mark.django_db
def test_a_different_sku_without_allow_sku_choice_is_refused(make_gift, sku, recipient, address):
    same_price = SkuFactory(product=sku.product, price_fen=sku.price_fen, original_price_fen=12900, stock=5)
    gift = make_gift()
    err = _refused(slot_accept, gift=gift, user=recipient, address=address, sku_id=same_price.pk)
    assert err.code == "sku_choice_not_allowed"
    assert Sku.objects.get(pk=same_price.pk).stock == 5
    assert Slot.objects.get(gift=gift).status == "unclaimed"


# ----- address and thanks -----


@pytest.mark.django_db
def test_bad_address_is_refused_with_the_fields_at_fault(make_gift, recipient):
    gift = make_gift()
    bad = AddressInput.from_dict({**ADDRESS, "phone": "12345", "province": "火星省"})
    err = _refused(slot_accept, gift=gift, user=recipient, address=bad)
    assert err.code == "bad_address"
    assert set(err.fields) == {"phone", "district"}
    bad = AddressInput.from_dict({**ADDRESS, "city": "北京市"})  # a city outside the province
    assert set(_refused(slot_accept, gift=gift, user=recipient, address=bad).fields) == {"district"}
    bad = AddressInput.from_dict({**ADDRESS, "name": "", "detail": "x"})
    assert set(_refused(slot_accept, gift=gift, user=recipient, address=bad).fields) == {"name", "detail"}
    assert Slot.objects.get(gift=gift).status == "unclaimed"
    assert not ShippingAddress.objects.exists()


@pytest.mark.django_db
def test_thanks_only_by_the_recipient_and_notifies_the_sender_once(
    make_gift, sender, recipient, other, address, django_capture_on_commit_callbacks
):
    gift = make_gift()
    slot = Slot.objects.get(gift=gift)
    err = _refused(slot_thank, slot=slot, user=recipient, text="谢谢")
    assert err.code == "not_yours"  # not accepted yet, so not theirs
    with django_capture_on_commit_callbacks(execute=True):
        slot_accept(gift=gift, user=recipient, address=address)
    slot = Slot.objects.select_related("gift").get(gift=gift)
    for intruder in (other, sender):
        err = _refused(slot_thank, slot=slot, user=intruder, text="谢谢")
        assert err.code == "not_yours" and err.status_code == 403
    slot_thank(slot=slot, user=recipient, text="谢谢你的礼物！")
    slot_thank(slot=slot, user=recipient, text="真的很喜欢")
    assert Slot.objects.get(pk=slot.pk).thanks == "真的很喜欢"
    assert Notification.objects.filter(user=sender, kind="thanks").count() == 1
    assert GiftEvent.objects.filter(slot=slot, kind="thanks").count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_grab_waits_for_a_locked_free_slot_instead_of_saying_all_taken(sender, sku):
    """The last free slot is locked by a grabber whose transaction rolls back: the next grabber
    must get it, not a false all_taken."""
    import threading

    from django.db import connection, transaction

    from gifts.models import Slot
    from gifts.services.checkout import gift_create
    from gifts.services.claim import slot_grab
    from tests.conftest import pay

    gift = pay(gift_create(sender=sender, sku_id=sku.pk, mode="group", recipients=2))
    first, late = UserFactory(username="first"), UserFactory(username="late")
    slot_grab(gift=gift, user=first)
    locked, release = threading.Event(), threading.Event()

    def hold_and_roll_back():
        try:
            with transaction.atomic():
                Slot.objects.select_for_update().filter(gift=gift, recipient__isnull=True).get()
                locked.set()
                release.wait(10)
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        finally:
            connection.close()

    holder = threading.Thread(target=hold_and_roll_back)
    holder.start()
    assert locked.wait(10)
    threading.Timer(0.3, release.set).start()
    slot = slot_grab(gift=gift, user=late)
    holder.join(10)
    assert slot.recipient_id == late.pk


@pytest.mark.django_db
def test_the_card_shows_the_sku_the_recipient_switched_to(make_gift, sku, recipient, other, address):
    """After switching 款式 the recipient's envelope names the one coming to them, not the one paid
    for; anyone else still sees the paid one."""
    import re

    from django.test import Client

    switched = SkuFactory(product=sku.product, attributes={"颜色": "藏青"}, price_fen=sku.price_fen)
    gift = make_gift(allow_sku_choice=True)
    slot_accept(gift=gift, user=recipient, address=address, sku_id=switched.pk)

    def envelope_sku(user) -> str:
        client = Client()
        client.force_login(user)
        page = client.get(gift.claim_path()).content.decode()
        return re.search(r'data-test="sku-paid">([^<]*)<', page).group(1)

    assert "藏青" in envelope_sku(recipient) and sku.label not in envelope_sku(recipient)
    assert sku.label in envelope_sku(other)


@pytest.mark.django_db
def test_the_claim_page_says_what_is_missing_from_an_address(make_gift, recipient):
    """An empty form gets the banner and one message per field in words of its own, no bare
    "this field is required"; a missing district is asked for by name."""
    from django.test import Client

    from tests.conftest import ADDRESS

    gift = make_gift()
    client = Client()
    client.force_login(recipient)
    empty = client.post(gift.claim_path(), {"action": "accept"}).content.decode()
    for message in ("地址信息有误", "请填写收件人姓名", "请填写 11 位中国大陆手机号", "请选择省份", "请填写详细地址"):
        assert message in empty, message
    assert "该字段是必填项" not in empty and "This field is required" not in empty
    no_district = client.post(gift.claim_path(), {"action": "accept", **ADDRESS, "district": ""}).content.decode()
    assert "请选择区县" in no_district and "行政区划表" not in no_district
    assert not Slot.objects.filter(gift=gift, recipient=recipient).exclude(status="unclaimed").exists()
