"""Every page of the journeys answers with the browser security headers, and none carries inline code
that the Content-Security-Policy would have to allow with 'unsafe-inline': no <script> without src,
no <style>, no style="" and no on…="" attribute. The one exception, the API docs page, runs its
start-up script and style under the request's nonce."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from gifts.services.checkout import gift_create
from gifts.services.claim import slot_accept
from tests.factories import ShopStaffFactory, UserFactory

pytestmark = pytest.mark.django_db

JSON_SCRIPT_TYPES = {"application/json", "application/ld+json"}


class InlineCode(HTMLParser):
    """Collects what a policy without 'unsafe-inline' would refuse."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.nonced: list[str] = []
        self._in_script = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in attrs:
            if name == "style" or name.startswith("on"):
                self.found.append(f'<{tag} {name}="{attrs[name]}">')
        if tag == "style":
            (self.nonced if attrs.get("nonce") else self.found).append("<style>")
        if tag == "script" and not attrs.get("src") and attrs.get("type") not in JSON_SCRIPT_TYPES:
            self._in_script = attrs
        for name in ("href", "src", "action"):
            if (attrs.get(name) or "").strip().lower().startswith("javascript:"):
                self.found.append(f'<{tag} {name}="{attrs[name]}">')

    def handle_endtag(self, tag):
        if tag == "script" and self._in_script is not None:
            (self.nonced if self._in_script.get("nonce") else self.found).append("<script> without src")
            self._in_script = None


def inline_code(html: str) -> InlineCode:
    parser = InlineCode()
    parser.feed(html)
    return parser


def assert_secure_page(response, label: str) -> None:
    assert response.status_code == 200, f"{label}: {response.status_code}"
    csp = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, f"{label}: {csp}"
    assert directives["default-src"] == "'self'" and directives["object-src"] == "'none'", csp
    assert directives["frame-ancestors"] == "'none'", csp
    assert response["Referrer-Policy"] == "same-origin", label
    assert response["Cross-Origin-Opener-Policy"] == "same-origin", label
    assert "camera=()" in response["Permissions-Policy"] and "geolocation=()" in response["Permissions-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    found = inline_code(response.content.decode())
    assert found.found == [], f"{label}: inline code the policy refuses: {found.found}"
    assert found.nonced == [], f"{label}: a nonce outside the docs page"
    assert "'nonce-" not in csp, f"{label}: a nonce in the header of a page that uses none"


@pytest.fixture
def journeys(make_gift, sender, recipient, other, sku, django_capture_on_commit_callbacks, address):
    """A gift in each state a page shows, a shop owner and an operator."""
    owner = ShopStaffFactory(shop=sku.product.shop, user=UserFactory(username="owner"), role="owner").user
    operator = UserFactory(username="operator", is_staff=True, is_superuser=True)
    open_single = make_gift()
    accepted = make_gift()
    with django_capture_on_commit_callbacks(execute=True):
        slot = slot_accept(gift=accepted, user=recipient, address=address)
    group = make_gift(mode="group", recipients=3)
    unpaid = gift_create(sender=sender, sku_id=sku.pk)
    return {
        "owner": owner,
        "operator": operator,
        "open_single": open_single,
        "accepted": accepted,
        "slot": slot,
        "group": group,
        "unpaid": unpaid,
    }


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def test_every_journey_page_sends_the_headers_and_no_inline_code(journeys, sender, recipient, other, sku):
    j = journeys
    product = sku.product
    visits = {
        None: [
            "/",
            reverse("shop-detail", args=[product.shop.slug]),
            product.get_absolute_url(),
            j["open_single"].claim_path(),
            j["group"].claim_path(),
            "/accounts/login/",
            "/accounts/password/login/",
            "/merchant/login/",
            "/admin/login/",
            "/no-such-page/",
        ],
        sender: [
            reverse("gift-checkout", args=[product.pk]),
            reverse("lottery-new", args=[product.pk]),
            reverse("bulk-new", args=[product.pk]),
            j["unpaid"].payment.cashier_url,
            reverse("gift-card", args=[j["open_single"].pk]),
            reverse("gift-detail", args=[j["accepted"].pk]),
            reverse("gift-tracker", args=[j["group"].pk]),
            reverse("gift-list"),
            reverse("inbox"),
            reverse("account-data"),
        ],
        recipient: [j["accepted"].claim_path(), reverse("received"), j["open_single"].claim_path()],
        other: [j["accepted"].claim_path()],
        j["owner"]: [
            "/merchant/",
            reverse("merchant:dashboard"),
            reverse("merchant:wb-to-ship"),
            reverse("merchant:wb-print") + f"?ids={j['slot'].pk}",
            reverse("merchant:wb-parcel", args=[j["slot"].pk]),
            reverse("merchant:wb-exceptions"),
            reverse("merchant:wb-catalogue"),
            reverse("merchant:gifts_slot_changelist"),
            reverse("merchant:gifts_slot_change", args=[j["slot"].pk]),
            reverse("merchant:gifts_slot_waybill", args=[j["slot"].pk]),
            reverse("merchant:shops_product_change", args=[product.pk]),
        ],
        j["operator"]: [
            "/admin/",
            reverse("admin:gifts_gift_changelist"),
            reverse("admin:fulfilment_shipment_change", args=[j["slot"].shipment.pk]),
        ],
    }
    for user, paths in visits.items():
        client = _client(user)
        for path in paths:
            response = client.get(path, follow=False)
            if path == "/no-such-page/":
                assert response.status_code == 404
                response.status_code = 200  # the friendly 404 page is a page like any other
            assert_secure_page(response, f"{user or 'anonymous'} {path}")


def test_the_api_docs_run_their_inline_start_up_under_the_requests_nonce_only(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    found = inline_code(response.content.decode())
    assert found.found == [] and len(found.nonced) == 2
    nonce = response.context["request"].csp_nonce
    assert f'nonce="{nonce}"' in response.content.decode()
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert f"'nonce-{nonce}'" in script_src and "'unsafe-inline'" not in csp
    assert client.get("/api/v1/docs/")["Content-Security-Policy"] != csp  # a fresh nonce per request
