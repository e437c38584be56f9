"""Schema fuzzing from outside: schemathesis reads the served app's own OpenAPI schema and sends
generated requests, valid and invalid, to every operation of the instance served with production
settings (gunicorn, PostgreSQL; tests/security/conftest.py). The one check: never a 5xx.

Signed in as alice (a sender and recipient of the demo) and, for the merchant endpoints, as merchant;
half the requests with an id or token in the path use ones that exist. Every operation is fuzzed
before the test reports, so one run lists every 5xx it found. Bounded: EXAMPLES per operation and
mode (about a minute and a half for the ~60 operations; the in-process fuzzer in tests/api checks
the answers against the schema with more examples).
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.security.conftest import PROXY

EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 12}


def _known(served) -> dict[str, list]:
    """Ids and tokens that exist, by path prefix (what a real client would have in hand)."""
    alice_id = served.query("SELECT id FROM auth_user WHERE username = 'alice'")[0][0]
    merchant_shops = [
        r[0]
        for r in served.query(
            "SELECT s.shop_id FROM shops_shopstaff s JOIN auth_user u ON u.id = s.user_id WHERE u.username = 'merchant'"
        )
    ]
    gifts = served.query("SELECT id, claim_token FROM gifts_gift WHERE sender_id = %s", alice_id)
    return {
        "/api/v1/products/": [r[0] for r in served.query("SELECT id FROM shops_product")],
        "/api/v1/gifts/": [g[0] for g in gifts],
        "/api/v1/claims/": [r[0] for r in served.query("SELECT claim_token FROM gifts_gift")],
        "/api/v1/received/": [
            r[0] for r in served.query("SELECT id FROM gifts_slot WHERE recipient_id = %s", alice_id)
        ],
        "/api/v1/addresses/": [
            r[0] for r in served.query("SELECT id FROM gifts_savedaddress WHERE user_id = %s", alice_id)
        ],
        "/api/v1/merchant/shops/": merchant_shops,
        "/api/v1/merchant/skus/": [
            r[0] for r in served.query("SELECT k.id FROM shops_sku k JOIN shops_product p ON p.id = k.product_id")
        ],
        "/api/v1/merchant/orders/": [r[0] for r in served.query("SELECT id FROM gifts_slot")],
        "/api/v1/bulk-orders/": [r[0] for r in served.query("SELECT id FROM gifts_bulkorder")],
    }


def _fuzz(operation, mode, *, base_url: str, headers: dict, existing: list) -> str | None:
    failures: list[str] = []

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
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        try:
            case.validate_response(response, checks=[not_a_server_error], headers=headers)
        except BaseException as exc:  # noqa: BLE001 - schemathesis raises a group; every 5xx is reported together
            failures.append(f"{operation.label} ({mode.value}): {response.status_code} {exc}"[:600])

    try:
        run()
    except Unsatisfiable:
        if mode != GenerationMode.NEGATIVE:  # nothing to make invalid in this operation's schema
            raise
    return failures[0] if failures else None


def test_no_generated_request_gets_a_5xx_from_the_served_app(served):
    schema = schemathesis.openapi.from_url(f"{served.url}/api/v1/schema/?format=json", headers=PROXY)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    known = _known(served)
    alice = {**PROXY, "Authorization": f"Token {served.token('alice')}"}
    merchant = {**PROXY, "Authorization": f"Token {served.token('merchant')}"}
    found = []
    for operation in operations:
        headers = merchant if operation.path.startswith("/api/v1/merchant/") else alice
        existing = next((ids for prefix, ids in known.items() if operation.path.startswith(prefix)), [])
        raw = operation.definition.raw
        modes = [GenerationMode.POSITIVE]
        if raw.get("parameters") or raw.get("requestBody"):
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            failure = _fuzz(operation, mode, base_url=served.url, headers=headers, existing=existing)
            if failure:
                found.append(failure)
    errors = [line for line in served.log_lines() if line.get("level") in ("ERROR", "CRITICAL")]
    assert found == [], "5xx answers:\n" + "\n".join(found)
    assert errors == [], f"errors in the server's log: {errors[:5]}"
