"""Group lottery (gifts/services/lottery.py): entries, a fair draw made once, refunds for unused units."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from campaigns.models import LotteryDraw, LotteryEntry
from campaigns.services.lottery import lottery_create, lottery_enter, lottery_pick_winners
from campaigns.tasks import group_gifts_due
from gifts.models import Gift, GiftEvent, Notification, Slot
from gifts.services.expiry import expire_batch
from giftshop.errors import AppError
from payments.models import Refund
from shops.models import Sku
from tests.conftest import ADDRESS, api_for, pay
from tests.factories import UserFactory

User = get_user_model()


def _lottery(sender, sku, *, winners=10, quantity=1, allowed=(), draw_in=timedelta(hours=1)) -> Gift:
    gift = lottery_create(
        sender=sender,
        sku_id=sku.pk,
        winners=winners,
        quantity=quantity,
        draw_at=timezone.now() + draw_in,
        message="新年抽奖",
        allowed_usernames=list(allowed),
    )
    return pay(gift)


@pytest.fixture
def paid_lottery(django_capture_on_commit_callbacks, sender, sku):
    def _make(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            gift = _lottery(sender, sku, **kwargs)
        gift.refresh_from_db()
        return gift

    return _make


def _due(gift: Gift) -> None:
    Gift.objects.filter(pk=gift.pk).update(draw_at=timezone.now() - timedelta(seconds=1))
    gift.refresh_from_db()


def _entrants(gift: Gift, n: int) -> list:
    users = User.objects.bulk_create(User(username=f"entrant{gift.pk}-{i:03d}") for i in range(n))
    for user in users:
        lottery_enter(gift=gift, user=user)
    return users


# ----- the draw -----


@pytest.mark.django_db(transaction=True)
def test_lottery_of_ten_among_three_hundred_entrants_draws_ten_distinct_winners_once_with_racing_draws(sender, sku):
    gift = _lottery(sender, sku, winners=10)
    assert gift.status == "sent"
    users = _entrants(gift, 300)
    _due(gift)
    start = threading.Barrier(2)

    def draw(_):
        start.wait()
        try:
            return lottery_pick_winners(gift_id=gift.pk).pk
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        draw_ids = list(pool.map(draw, range(2)))

    assert draw_ids[0] == draw_ids[1]
    assert LotteryDraw.objects.filter(gift=gift).count() == 1
    assert GiftEvent.objects.filter(gift=gift, kind="lottery_drawn").count() == 1
    draw = LotteryDraw.objects.get(gift=gift)
    holders = list(Slot.objects.filter(gift=gift).values_list("recipient_id", flat=True))
    assert None not in holders and len(set(holders)) == 10
    assert set(holders) == set(draw.winner_ids) <= {u.pk for u in users}
    # The audit record reproduces the winners: entrants in entry order, the picked indices.
    assert draw.entrant_ids == list(
        LotteryEntry.objects.filter(gift=gift).order_by("id").values_list("user_id", flat=True)
    )
    assert [draw.entrant_ids[i] for i in draw.picks] == draw.winner_ids
    assert len(set(draw.picks)) == 10 and draw.source == "secrets.SystemRandom"
    assert Notification.objects.filter(kind="lottery_won").count() == 10
    assert Notification.objects.filter(kind="lottery_lost").count() == 290
    assert not Refund.objects.filter(payment__gift=gift).exists()


def test_unused_units_are_refunded_exactly(paid_lottery, django_capture_on_commit_callbacks, sku):
    gift = paid_lottery(winners=10, quantity=2)
    stock_after_order = Sku.objects.get(pk=sku.pk).stock
    _entrants(gift, 3)
    _due(gift)

    with django_capture_on_commit_callbacks(execute=True):
        draw = lottery_pick_winners(gift_id=gift.pk)

    assert draw.units_unused == 7 and draw.refund_fen == 7 * 2 * sku.price_fen
    refunds = Refund.objects.filter(payment__gift=gift)
    assert {r.reason for r in refunds} == {"undrawn"}
    assert sum(r.amount_fen for r in refunds) == 7 * 2 * sku.price_fen
    assert all(r.status == "succeeded" for r in refunds)
    assert Sku.objects.get(pk=sku.pk).stock == stock_after_order + 7 * 2
    statuses = sorted(Slot.objects.filter(gift=gift).values_list("status", flat=True))
    assert statuses == ["refunded"] * 7 + ["unclaimed"] * 3
    assert Slot.objects.filter(gift=gift, recipient__isnull=False, status="unclaimed").count() == 3


def test_a_lottery_nobody_entered_refunds_the_whole_amount(paid_lottery, django_capture_on_commit_callbacks):
    gift = paid_lottery(winners=4)
    _due(gift)
    with django_capture_on_commit_callbacks(execute=True):
        lottery_pick_winners(gift_id=gift.pk)
    gift.refresh_from_db()
    assert sum(Refund.objects.filter(payment__gift=gift).values_list("amount_fen", flat=True)) == gift.amount_fen
    assert gift.status == "refunded"


def test_a_second_draw_changes_nothing(paid_lottery, django_capture_on_commit_callbacks):
    gift = paid_lottery(winners=3)
    _entrants(gift, 5)
    _due(gift)
    first = lottery_pick_winners(gift_id=gift.pk)
    holders = set(Slot.objects.filter(gift=gift).values_list("recipient_id", flat=True))
    notes = Notification.objects.count()

    again = lottery_pick_winners(gift_id=gift.pk)

    assert again.pk == first.pk and again.winner_ids == first.winner_ids
    assert set(Slot.objects.filter(gift=gift).values_list("recipient_id", flat=True)) == holders
    assert Notification.objects.count() == notes


def test_a_draw_before_the_draw_time_does_nothing(paid_lottery):
    gift = paid_lottery(winners=3)
    _entrants(gift, 5)
    assert lottery_pick_winners(gift_id=gift.pk) is None
    assert not LotteryDraw.objects.exists()


def test_the_beat_task_draws_lotteries_that_are_due(paid_lottery, django_capture_on_commit_callbacks):
    due = paid_lottery(winners=2)
    later = paid_lottery(winners=2)
    _entrants(due, 4)
    _due(due)
    with django_capture_on_commit_callbacks(execute=True):
        group_gifts_due.delay()
    assert LotteryDraw.objects.filter(gift=due).exists()
    assert not LotteryDraw.objects.filter(gift=later).exists()


def test_lottery_slots_do_not_expire_before_the_draw(paid_lottery):
    gift = paid_lottery(winners=2, draw_in=timedelta(days=3))
    assert gift.expires_at >= gift.draw_at + timedelta(hours=24)
    assert expire_batch(now=timezone.now() + timedelta(days=2)) == 0


# ----- entering -----


def test_entering_twice_changes_nothing(paid_lottery, recipient):
    gift = paid_lottery()
    _, created = lottery_enter(gift=gift, user=recipient)
    _, again = lottery_enter(gift=gift, user=recipient)
    assert created and not again
    assert LotteryEntry.objects.filter(gift=gift).count() == 1


def test_entering_after_the_draw_time_is_refused(paid_lottery, recipient, other):
    gift = paid_lottery()
    lottery_enter(gift=gift, user=recipient)
    _due(gift)
    with pytest.raises(AppError) as info:
        lottery_enter(gift=gift, user=other)
    assert info.value.code == "lottery_closed"
    lottery_pick_winners(gift_id=gift.pk)
    with pytest.raises(AppError):
        lottery_enter(gift=gift, user=other)
    assert list(LotteryEntry.objects.filter(gift=gift).values_list("user_id", flat=True)) == [recipient.pk]


def test_only_invited_accounts_may_enter(paid_lottery, recipient, other):
    gift = paid_lottery(allowed=[recipient.username])
    lottery_enter(gift=gift, user=recipient)
    with pytest.raises(AppError) as info:
        lottery_enter(gift=gift, user=other)
    assert info.value.code == "not_invited"


def test_inviting_an_unknown_account_is_refused(sender, sku):
    with pytest.raises(AppError) as info:
        lottery_create(
            sender=sender,
            sku_id=sku.pk,
            winners=2,
            draw_at=timezone.now() + timedelta(hours=1),
            allowed_usernames=["nobody-here"],
        )
    assert info.value.code == "unknown_recipient"


def test_a_long_invitation_list_does_not_tell_which_names_have_an_account(sender, recipient, other, sku):
    """The attack run sent 2,009 guessed names and got back the ones that do not exist. Now the
    answer is a count: no name from the list, known or unknown, comes back."""
    guesses = [f"guess{i}" for i in range(2000)] + [recipient.username, other.username]
    r = api_for(sender).post(
        "/api/v1/lotteries/",
        {
            "sku_id": sku.pk,
            "winners": 2,
            "draw_at": (timezone.now() + timedelta(hours=1)).isoformat(),
            "allowed_usernames": guesses,
        },
        format="json",
    )
    assert r.status_code in (400, 404, 409) and r.json()["code"] == "unknown_recipient"
    body = r.content.decode()
    assert "2000" in r.json()["detail"]
    assert not any(name in body for name in ("guess0", "guess1999", recipient.username, other.username))


def test_starting_lotteries_is_limited_per_account(sender, sku, monkeypatch):
    from campaigns.api.views import LotteryThrottle

    monkeypatch.setattr(LotteryThrottle, "THROTTLE_RATES", {"lottery": "2/hour"})
    payload = {"sku_id": sku.pk, "winners": 1, "draw_at": (timezone.now() + timedelta(hours=1)).isoformat()}
    client = api_for(sender)
    assert [client.post("/api/v1/lotteries/", payload, format="json").status_code for _ in range(2)] == [201, 201]
    refused = client.post("/api/v1/lotteries/", payload, format="json")
    assert refused.status_code == 429 and refused.json()["code"] == "throttled"


def test_a_draw_time_in_the_past_is_refused(sender, sku):
    with pytest.raises(AppError) as info:
        lottery_create(sender=sender, sku_id=sku.pk, winners=2, draw_at=timezone.now() - timedelta(minutes=1))
    assert info.value.code == "bad_draw_time"


def test_the_sender_cannot_enter_their_own_lottery(paid_lottery, sender):
    with pytest.raises(AppError) as info:
        lottery_enter(gift=paid_lottery(), user=sender)
    assert info.value.code == "not_yours"


# ----- claiming: winners accept as usual; nobody else can -----


def test_winner_accepts_with_an_address_and_a_loser_cannot(paid_lottery, django_capture_on_commit_callbacks):
    gift = paid_lottery(winners=1)
    users = _entrants(gift, 2)
    _due(gift)
    draw = lottery_pick_winners(gift_id=gift.pk)
    winner = next(u for u in users if u.pk == draw.winner_ids[0])
    loser = next(u for u in users if u.pk != winner.pk)

    r = api_for(loser).post(f"/api/v1/claims/{gift.claim_token}/accept/", {"address": ADDRESS}, format="json")
    assert r.status_code == 403 and r.data["code"] == "not_a_winner"
    with django_capture_on_commit_callbacks(execute=True):
        r = api_for(winner).post(f"/api/v1/claims/{gift.claim_token}/accept/", {"address": ADDRESS}, format="json")
    assert r.status_code == 202, r.content
    assert Slot.objects.get(gift=gift).status == "to_ship"


# ----- REST and pages -----


def test_lottery_through_the_api(django_capture_on_commit_callbacks, sender, recipient, sku):
    draw_at = (timezone.now() + timedelta(hours=2)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        r = api_for(sender).post(
            "/api/v1/lotteries/",
            {"sku_id": sku.pk, "winners": 3, "draw_at": draw_at, "message": "抽奖啦"},
            format="json",
        )
    assert r.status_code == 201, r.content
    assert r.data["mode"] == "lottery" and r.data["amount_fen"] == 3 * sku.price_fen and r.data["draw_at"]
    with django_capture_on_commit_callbacks(execute=True):
        pay(Gift.objects.get(pk=r.data["id"]))
    token = Gift.objects.get(pk=r.data["id"]).claim_token

    bob = api_for(recipient)
    first = bob.post(f"/api/v1/lotteries/{token}/enter/")
    second = bob.post(f"/api/v1/lotteries/{token}/enter/")
    assert first.status_code == 201 and second.status_code == 200 and second.data["created"] is False
    card = bob.get(f"/api/v1/lotteries/{token}/")
    assert card.status_code == 200
    assert card.data["entered"] is True and card.data["entrants"] == 1 and card.data["drawn"] is False


def test_lottery_page_lets_a_member_enter(client, paid_lottery, recipient):
    gift = paid_lottery()
    client.force_login(recipient)
    r = client.post(f"/l/{gift.claim_token}/", {"action": "enter"}, follow=True)
    assert r.status_code == 200 and 'data-state="entered"' in r.content.decode()
    assert LotteryEntry.objects.filter(gift=gift, user=recipient).exists()


def test_the_generic_claim_link_of_a_lottery_leads_to_the_lottery_page(client, paid_lottery):
    gift = paid_lottery()
    client.force_login(UserFactory(username="dave"))
    r = client.get(f"/c/{gift.claim_token}/")
    assert r.status_code == 302 and r["Location"] == f"/l/{gift.claim_token}/"


def test_the_lottery_page_counts_against_the_api_s_claim_limits(client, paid_lottery, recipient, monkeypatch):
    """Entering on the page is no way around the API's limits: the same per-account count."""
    from gifts.throttles import ClaimIpThrottle, ClaimThrottle

    for cls in (ClaimThrottle, ClaimIpThrottle):
        monkeypatch.setattr(cls, "THROTTLE_RATES", {"claim": "1/min", "claim_ip": "1000/min"})
    first, second = paid_lottery(), paid_lottery()
    assert api_for(recipient).post(f"/api/v1/lotteries/{first.claim_token}/enter/").status_code == 201
    client.force_login(recipient)
    refused = client.post(f"/l/{second.claim_token}/", {"action": "enter"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "操作太频繁，请" in refused.content.decode()
    assert f'href="/l/{second.claim_token}/" data-test="back"' in refused.content.decode()  # back to the card
    assert not LotteryEntry.objects.filter(gift=second, user=recipient).exists()
