"""Schema fuzzing with schemathesis against the live schema, through the WSGI app, on PostgreSQL.

Every operation gets a bounded number of generated requests (valid ones, then invalid ones), sent with
a real `Authorization: Token` of a demo-like account that is at once a sender, a recipient and a
merchant, so the interesting code paths run. Half of the requests with ids or claim tokens in the path
use ids that exist. Checks: never a 5xx; status codes, content types, headers and bodies as documented.
The webhooks are fuzzed too: unsigned, they must answer the documented 401, never a 5xx.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gifts.services.claim import AddressInput, address_save, slot_accept
from tests.api.conftest import token_client
from tests.conftest import ADDRESS

pytestmark = pytest.mark.django_db

EXAMPLES = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 10}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def fuzz_world(django_capture_on_commit_callbacks, sender, recipient, other, sku, merchant, make_gift):
    """alice, like the demo: sends gifts, received one from carol, saved an address, and also works for
    the shop (so the merchant endpoints have her orders)."""
    from tests.factories import ShopStaffFactory

    ShopStaffFactory(shop=sku.product.shop, user=sender)
    mine = [make_gift(), make_gift(mode="group", recipients=3), make_gift(paid=False)]
    to_me = make_gift(sender=other)
    with django_capture_on_commit_callbacks(execute=True):
        received = slot_accept(gift=to_me, user=sender, address=AddressInput.from_dict(ADDRESS))
    group_from_carol = make_gift(sender=other, mode="group", recipients=4)
    saved = address_save(user=sender, address=AddressInput.from_dict(ADDRESS))
    known = {
        "/api/v1/products/": [sku.product_id],
        "/api/v1/gifts/": [g.pk for g in mine],
        "/api/v1/claims/": [g.claim_token for g in (*mine, to_me, group_from_carol)],
        "/api/v1/received/": [received.pk],
        "/api/v1/addresses/": [saved.pk],
        "/api/v1/merchant/shops/": [sku.product.shop_id],
        "/api/v1/merchant/skus/": [sku.pk],
        "/api/v1/merchant/orders/": [received.pk, *(s.pk for g in mine for s in g.slots.all())],
    }
    client = token_client(sender)
    return {"headers": {"Authorization": client._credentials["HTTP_AUTHORIZATION"]}, "known": known}


@pytest.fixture
def wsgi_app():
    """The project's WSGI handler, keeping the test's database connection open between requests (as
    Django's own test client does): the test transaction is rolled back at the end."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _known_for(path: str, known: dict) -> list:
    return next((ids for prefix, ids in known.items() if path.startswith(prefix)), [])


def _fuzz(operation, mode: GenerationMode, *, headers: dict, known: dict) -> None:
    existing = _known_for(operation.path, known)

    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def run(case, data):
        if existing and case.path_parameters and data.draw(st.booleans(), label="use an existing id"):
            for name in case.path_parameters:
                case.path_parameters[name] = data.draw(st.sampled_from(existing), label=name)
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    try:
        run()
    except Unsatisfiable:
        # Negative mode found nothing in this operation's schema that can be made invalid (e.g. a
        # free-form string path parameter); the positive run covered it.
        if mode != GenerationMode.NEGATIVE:
            raise
    except BaseException as exc:
        exc.add_note(f"while fuzzing {operation.label} ({mode})")
        raise


def test_every_operation_survives_fuzzing_and_matches_its_schema(fuzz_world, wsgi_app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", wsgi_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:
        raw = operation.definition.raw
        # Nothing to make invalid in an operation without parameters or body: positive only.
        negatable = raw.get("parameters") or raw.get("requestBody")
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if negatable else (GenerationMode.POSITIVE,):
            _fuzz(operation, mode, **fuzz_world)
