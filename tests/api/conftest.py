"""Fixtures for the REST API tests: a small world with every kind of actor, and a clean throttle cache."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from gifts.models import Gift, Slot
from gifts.services.claim import AddressInput, address_save, slot_accept
from tests.conftest import ADDRESS, api_for
from tests.factories import ShopStaffFactory, SkuFactory, UserFactory

ACTORS = ("anonymous", "sender", "recipient", "other", "merchant_a", "merchant_b")


@pytest.fixture(autouse=True)
def _clean_throttle_cache():
    """Throttle counters live in the cache: every test starts from zero."""
    cache.clear()
    yield
    cache.clear()


@dataclass
class World:
    """alice sent bob a single gift (accepted, to ship), a group gift nobody took yet and a gift named for
    bob he has not opened; carol sent bob a gift from shop B (accepted, to ship); bob saved an address.

    merchant_a works for the shop that sells `sku_a`; merchant_b for another shop with `sku_b`;
    carol (`other`) is just another account.
    """

    sender: object
    recipient: object
    other: object
    merchant_a: object
    merchant_b: object
    sku_a: object
    sku_b: object
    gift: Gift
    slot: Slot
    group_gift: Gift
    named_gift: Gift
    b_gift: Gift
    saved_address: object

    def user(self, actor: str):
        return None if actor == "anonymous" else getattr(self, actor)

    def client(self, actor: str) -> APIClient:
        user = self.user(actor)
        return APIClient() if user is None else api_for(user)


@pytest.fixture
def world(db, django_capture_on_commit_callbacks, sender, recipient, other, sku, merchant, make_gift) -> World:
    sku_b = SkuFactory(stock=50, price_fen=5000, original_price_fen=6000)
    merchant_b = ShopStaffFactory(shop=sku_b.product.shop, user=UserFactory(username="merchant2")).user
    gift = make_gift(message="生日快乐")
    with django_capture_on_commit_callbacks(execute=True):
        slot = slot_accept(gift=gift, user=recipient, address=AddressInput.from_dict(ADDRESS))
    slot.refresh_from_db()
    group_gift = make_gift(mode="group", recipients=3, message="新年快乐")
    named_gift = make_gift(recipient_username="bob")
    b_gift = make_gift(sku_id=sku_b.pk, sender=other)
    with django_capture_on_commit_callbacks(execute=True):
        slot_accept(gift=b_gift, user=recipient, address=AddressInput.from_dict(ADDRESS))
    return World(
        sender=sender,
        recipient=recipient,
        other=other,
        merchant_a=merchant,
        merchant_b=merchant_b,
        sku_a=sku,
        sku_b=sku_b,
        gift=gift,
        slot=slot,
        group_gift=group_gift,
        named_gift=named_gift,
        b_gift=b_gift,
        saved_address=address_save(user=recipient, address=AddressInput.from_dict(ADDRESS)),
    )


def token_client(user) -> APIClient:
    """A client that signs in the way real API clients do: `Authorization: Token <key>`."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client
