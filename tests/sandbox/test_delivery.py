"""The sandboxes' in-process callbacks reach the app on production settings too (a staging site
with ALLOW_SANDBOX and no SANDBOX_CALLBACK_BASE_URL): a host it serves, over HTTPS."""

import pytest

from gifts.models import GiftStatus
from payments.models import Payment


@pytest.mark.django_db
def test_a_sandbox_payment_callback_is_taken_on_a_site_that_refuses_testserver_and_plain_http(make_gift, settings):
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    gift = make_gift()  # paid through the sandbox gateway, whose callback goes through the full stack

    gift.refresh_from_db()
    assert gift.status == GiftStatus.SENT
    assert Payment.objects.get(gift=gift).status == Payment.Status.PAID


@pytest.mark.django_db
def test_the_sandbox_cashier_offers_a_way_back_before_paying(client, make_gift, sender):
    gift = make_gift(paid=False)
    client.force_login(sender)
    page = client.get(f"/sandbox/cashier/{gift.payment.out_trade_no}/").content.decode()
    assert 'data-test="confirm-pay"' in page and f'href="/products/{gift.sku.product_id}/"' in page
