"""The demo's group grab on SQLite, through the REST API (commit 7aeb889: it answered 500 after
taking the slot, because the grab's row conversion differed on SQLite and nothing ran it there).

One `manage.py shell` on the demo settings does what `make run` and a client would: a fresh
migrate and the demo data, then alice's group gift by the REST contract (token, create, the
sandbox pay button, the claim link) and bob's grab, twice. It prints the answers; the test reads
them."""

import json

import pytest

from tests.ops.demo import demo_env, manage

SCRIPT = """
import json
from django.core.management import call_command
from django.test import Client

call_command("migrate", "--noinput", verbosity=0)
call_command("load_demo", verbosity=0)

def client(token=None):
    headers = {"Authorization": f"Token {token}"} if token else {}
    return Client(raise_request_exception=False, HTTP_HOST="127.0.0.1", headers=headers)

def post(path, body=None, token=None, **extra):
    return client(token).post(path, json.dumps(body or {}), content_type="application/json", **extra)

def token(username):
    answer = post("/api/v1/auth/token/", {"username": username, "password": "giftshop-demo"})
    assert answer.status_code == 200, answer.content
    return answer.json()["token"]

alice, bob = token("alice"), token("bob")
sku_id = None
for product in client().get("/api/v1/products/").json()["results"]:
    detail = client().get(f"/api/v1/products/{product['id']}/").json()
    skus = [s for s in detail["skus"] if s["stock"] >= 2]
    if detail["gifting"]["eligible"] and skus:
        sku_id = skus[0]["id"]
        break
created = post("/api/v1/gifts/", {"sku_id": sku_id, "mode": "group", "recipients": 2}, token=alice)
assert created.status_code == 201, created.content
gift = created.json()
paid = post(f"/sandbox/pay/{gift['payment']['out_trade_no']}/", HTTP_ACCEPT="application/json")
assert paid.status_code == 200, paid.content
claim_url = client(alice).get(f"/api/v1/gifts/{gift['id']}/").json()["claim_url"]
claim_token = claim_url.rstrip("/").rsplit("/", 1)[-1]
grabs = [post(f"/api/v1/claims/{claim_token}/grab/", token=bob) for _ in range(2)]
print("RESULT " + json.dumps([[g.status_code, g.content.decode()] for g in grabs]))
# bob accepts the slot he grabbed, and carol accepts with a grab on the way: the accept's writes
# (one statement on PostgreSQL) are the ORM's saves here.
address = {"name": "李雷", "phone": "13800000002", "province": "北京市", "city": "北京市",
           "district": "朝阳区", "detail": "建国路 1 号"}
carol = token("carol")
accepts = [post(f"/api/v1/claims/{claim_token}/accept/", {"address": address}, token=t) for t in (bob, carol)]
from gifts.models import Gift
from outbox.models import Job
g = Gift.objects.get(pk=gift["id"])
print("ACCEPTED " + json.dumps({
    "answers": [[a.status_code, a.content.decode()] for a in accepts],
    "slots": sorted([s.status, s.address.full(), s.events.filter(to_status="accepted").count()] for s in g.slots.all()),
    "gift": g.status,
    "jobs_left": Job.objects.filter(task="gifts.tasks.process_claim").count(),
}, ensure_ascii=False))
"""


def test_the_demo_on_sqlite_grabs_a_group_gift_slot_once_per_account(tmp_path):
    out = manage(demo_env(tmp_path / "demo.sqlite3"), "shell", input_text=SCRIPT)
    [line] = [line for line in out.splitlines() if line.startswith("RESULT ")]
    (first_status, first_body), (again_status, again_body) = json.loads(line.removeprefix("RESULT "))

    assert first_status == 200, first_body[:500]  # 500 before 7aeb889
    slot = json.loads(first_body)
    assert slot["status"] == "unclaimed" and slot["id"]
    assert (again_status, json.loads(again_body)["code"]) == (409, "already_taken_by_you")

    [line] = [line for line in out.splitlines() if line.startswith("ACCEPTED ")]
    accepted = json.loads(line.removeprefix("ACCEPTED "))
    assert [status for status, _ in accepted["answers"]] == [202, 202], accepted["answers"]
    # Eager Celery: each accept's job ran (and was deleted) once the accept committed.
    assert [status for status, _, _ in accepted["slots"]] == ["to_ship", "to_ship"], accepted
    assert {full for _, full, _ in accepted["slots"]} == {"李雷 13800000002 北京市朝阳区建国路 1 号"}
    assert [events for _, _, events in accepted["slots"]] == [1, 1]
    assert accepted["gift"] == "claimed" and accepted["jobs_left"] == 0


pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
