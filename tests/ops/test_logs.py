"""Structured logs: one JSON object per line, carrying the request id and the gift/slot a line is about."""

from django.test import Client

from gifts.tasks import process_claim
from tests.conftest import api_for
from tests.ops.helpers import accept


def test_request_log_line_is_json_with_the_callers_request_id(db, json_log_lines):
    response = Client().get("/healthz", headers={"X-Request-ID": "req-4711"})
    assert response["X-Request-ID"] == "req-4711"
    lines = [line for line in json_log_lines() if line["logger"] == "giftshop.request"]
    assert len(lines) == 1
    assert lines[0]["request_id"] == "req-4711"
    assert lines[0]["path"] == "/healthz"
    assert lines[0]["status"] == 200
    assert lines[0]["level"] == "INFO"


def test_request_without_an_id_gets_a_fresh_one_and_a_forged_one_is_replaced(db, json_log_lines):
    first = Client().get("/healthz")
    second = Client().get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    ids = [first["X-Request-ID"], second["X-Request-ID"]]
    assert all(len(i) == 32 for i in ids) and ids[0] != ids[1]
    assert [line["request_id"] for line in json_log_lines() if line["logger"] == "giftshop.request"] == ids


def test_gift_creation_logs_the_gift_id_under_the_request_id(sku, sender, json_log_lines):
    response = api_for(sender).post(
        "/api/v1/gifts/", {"sku_id": sku.pk, "mode": "single"}, format="json", headers={"X-Request-ID": "req-gift"}
    )
    assert response.status_code == 201
    created = [line for line in json_log_lines() if line["message"].startswith("gift created")]
    assert len(created) == 1
    assert created[0]["request_id"] == "req-gift"
    assert created[0]["gift_id"] == response.json()["id"]


def test_a_task_run_logs_its_slot_id_and_task_name(make_gift, recipient, address, json_log_lines):
    gift = make_gift()
    slot = accept(gift, recipient, address)
    process_claim.delay(slot.pk)
    processed = [line for line in json_log_lines() if line["message"] == "claim processed: to ship"]
    assert len(processed) == 1
    assert processed[0]["slot_id"] == slot.pk
    assert processed[0]["gift_id"] == gift.pk
    assert processed[0]["task"] == "gifts.tasks.process_claim"
    # The task's context closes with the run.
    from giftshop.logs import current

    assert "task" not in current() and "task_id" not in current()


def test_the_access_line_never_holds_a_claim_links_token(client, caplog, make_gift):
    """The claim link is the gift: whoever reads the log could accept it. The access line keeps the
    route with the token's name instead."""
    import logging

    gift = make_gift()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="giftshop.request"):
        assert client.get(f"/c/{gift.claim_token}/").status_code == 200
        client.get(f"/api/v1/claims/{gift.claim_token}/")
    lines = [r for r in caplog.records if r.name == "giftshop.request"]
    assert len(lines) == 2
    for record in lines:
        assert gift.claim_token not in record.getMessage() and gift.claim_token not in record.path
    assert lines[0].path == "/c/<token>/" and lines[1].path == "/api/v1/claims/<token>/"
