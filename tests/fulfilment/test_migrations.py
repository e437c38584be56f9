"""The migrations that make a waybill number unique per shop (fulfilment 0004-0006), run with
Django's migration executor on PostgreSQL: every shipment made before them gets its slot's gift's
shop, batch by batch, and a row an old process made between the backfill and the NOT NULL is
filled too, in the same transaction as the ALTER TABLE (which PostgreSQL refuses while deferred
foreign key checks are pending, unless they are run first)."""

from importlib import import_module

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from gifts.models import Slot
from gifts.services.claim import AddressInput, slot_accept
from tests.conftest import ADDRESS
from tests.factories import SkuFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("fulfilment", "0003_shipment_handed_over")]
BACKFILLED = [("fulfilment", "0005_shipment_shop_backfill")]
AFTER = [("fulfilment", "0006_shipment_shop_required")]


def migrate(targets):
    """Migrate the test database to `targets`; the models as they were there."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


@pytest.fixture
def latest():
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # the schema as the other tests expect it


def _accepted(make_gift, sku, n: int) -> list[Slot]:
    gift = make_gift(sku_id=sku.pk, mode="group" if n > 1 else "single", recipients=n)
    for user in UserFactory.create_batch(n):
        slot_accept(gift=gift, user=user, address=AddressInput.from_dict(ADDRESS))
    slots = list(Slot.objects.filter(gift=gift))
    assert {s.status for s in slots} == {"to_ship"}  # the eager worker issued their waybills
    return slots


def test_existing_shipments_get_their_slots_shop_in_batches(latest, make_gift, monkeypatch):
    slots = _accepted(make_gift, SkuFactory(), 3) + _accepted(make_gift, SkuFactory(), 2)
    expected = {s.pk: s.gift.shop_id for s in slots}
    assert len(set(expected.values())) == 2
    monkeypatch.setattr(import_module("fulfilment.migrations.0005_shipment_shop_backfill"), "BATCH", 2)

    old = migrate(BEFORE)
    assert "shop" not in {f.name for f in old.get_model("fulfilment", "Shipment")._meta.get_fields()}
    new = migrate(AFTER)

    shipment = new.get_model("fulfilment", "Shipment")
    assert dict(shipment.objects.values_list("slot_id", "shop_id")) == expected
    assert not shipment._meta.get_field("shop").null


def test_a_shipment_made_after_the_backfill_is_filled_before_the_shop_is_required(latest, make_gift):
    first, straggler = _accepted(make_gift, SkuFactory(), 2)
    migrate(BEFORE)
    apps = migrate(BACKFILLED)
    shipment = apps.get_model("fulfilment", "Shipment")
    assert shipment.objects.filter(shop__isnull=True).count() == 0
    # An old web process, still serving, records a waybill without a shop.
    shipment.objects.filter(slot_id=straggler.pk).delete()
    shipment.objects.create(slot_id=straggler.pk, carrier="sandbox", waybill_no="SBX-OLD-PROCESS", status="issued")

    apps = migrate(AFTER)

    shipment = apps.get_model("fulfilment", "Shipment")
    assert dict(shipment.objects.values_list("slot_id", "shop_id")) == {
        first.pk: first.gift.shop_id,
        straggler.pk: straggler.gift.shop_id,
    }
    # And the number is unique per shop now: the same one again in this shop is refused.
    row = shipment.objects.get(slot_id=first.pk)
    other = shipment.objects.get(slot_id=straggler.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        shipment.objects.filter(pk=other.pk).update(carrier=row.carrier, waybill_no=row.waybill_no)
