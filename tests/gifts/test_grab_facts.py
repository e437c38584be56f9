"""The grab's facts of a gift (gifts/services/grab.py): what a grab reads, as the database has it,
from a per-process cache; every other column deferred, never a default standing in for it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gifts.services.grab import _gift_facts

pytestmark = pytest.mark.django_db


def test_the_facts_are_the_gifts_columns_and_come_from_the_cache_the_second_time(make_gift):
    gift = make_gift(mode="group", recipients=3)
    first = _gift_facts(gift.claim_token)
    with CaptureQueriesContext(connection) as queries:
        again = _gift_facts(gift.claim_token)
    assert queries.captured_queries == []
    for facts in (first, again):
        assert (facts.pk, facts.sender_id, facts.mode, facts.recipients_count, facts.status, facts.expires_at) == (
            gift.pk,
            gift.sender_id,
            gift.mode,
            gift.recipients_count,
            gift.status,
            gift.expires_at,
        )
        assert not facts._state.adding


def test_a_column_the_grab_does_not_read_is_loaded_not_made_up(make_gift):
    gift = make_gift(mode="group", recipients=3)
    facts = _gift_facts(gift.claim_token)
    assert {"claim_token", "message", "amount_fen"} <= facts.get_deferred_fields()
    assert facts.claim_token == gift.claim_token  # read from the database, not a fresh random token
