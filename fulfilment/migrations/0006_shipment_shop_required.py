# Step 3 of 3: the shop is required and a waybill number is unique per shop (shop, carrier,
# number) instead of across shops. A courier's event ids are made from the waybill number, so a
# tracking event is unique per shipment.

from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Q

_backfill = import_module('fulfilment.migrations.0005_shipment_shop_backfill').shipment_shop_backfill


def stragglers_backfill(apps, schema_editor):
    """Rows an old process created after 0005. (The deferred foreign key checks this update queues
    do not block the ALTER TABLE below: Django's AlterField of a foreign key drops its constraint
    with SET CONSTRAINTS ... IMMEDIATE first; tests/fulfilment/test_migrations.py runs this.)"""
    _backfill(apps, schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ('fulfilment', '0005_shipment_shop_backfill'),
    ]

    operations = [
        migrations.RunPython(stragglers_backfill, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name='shipment',
            name='shop',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='shops.shop'),
        ),
        migrations.RemoveConstraint(
            model_name='shipment',
            name='shipment_unique_waybill',
        ),
        migrations.AddConstraint(
            model_name='shipment',
            constraint=models.UniqueConstraint(
                condition=~Q(waybill_no=''),
                fields=('shop', 'carrier', 'waybill_no'),
                name='shipment_unique_waybill_per_shop',
            ),
        ),
        migrations.AlterField(
            model_name='trackingevent',
            name='event_id',
            field=models.CharField(max_length=64),
        ),
        migrations.AddConstraint(
            model_name='trackingevent',
            constraint=models.UniqueConstraint(fields=('shipment', 'event_id'), name='trackingevent_unique_per_shipment'),
        ),
    ]
