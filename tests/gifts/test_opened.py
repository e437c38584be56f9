"""The sender's tracker shows a gift "opened" only when someone who may claim it opened the card: not
the sender checking their own link, not another account when the gift names a friend, not after the
gift is over (the attack run's sender marked their own unnamed gift "opened")."""

from datetime import timedelta

import pytest
from django.utils import timezone

from gifts.models import Gift, Slot
from tests.conftest import api_for

pytestmark = pytest.mark.django_db


def _opened(gift) -> bool:
    return Slot.objects.get(gift=gift).opened_at is not None


def _open(user, gift):
    return api_for(user).get(f"/api/v1/claims/{gift.claim_token}/")


def test_the_sender_opening_their_own_unnamed_gift_does_not_mark_it_opened(make_gift, sender, recipient):
    gift = make_gift()
    assert _open(sender, gift).status_code == 200
    assert not _opened(gift)
    assert _open(recipient, gift).status_code == 200
    assert _opened(gift)


def test_only_the_named_friend_marks_a_named_gift_opened(make_gift, recipient, other, client):
    gift = make_gift(recipient_username=recipient.username)
    _open(other, gift)
    client.force_login(other)
    client.get(gift.claim_path())
    assert not _opened(gift)
    _open(recipient, gift)
    assert _opened(gift)


def test_opening_a_gift_that_is_over_marks_nothing(make_gift, recipient):
    gift = make_gift()
    Gift.objects.filter(pk=gift.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    _open(recipient, gift)
    assert not _opened(gift)
