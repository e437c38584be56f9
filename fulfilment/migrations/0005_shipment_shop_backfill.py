# Step 2 of 3: each existing shipment gets its slot's gift's shop, in batches that each commit
# (the migration is not atomic), so a large table is never locked for long. Run again by 0006 for
# the rows a still-running old process created in between.

from django.db import migrations, transaction
from django.db.models import OuterRef, Subquery

BATCH = 2000


def shipment_shop_backfill(apps, schema_editor):
    Shipment = apps.get_model('fulfilment', 'Shipment')
    Slot = apps.get_model('gifts', 'Slot')
    db = schema_editor.connection.alias
    shop = Subquery(Slot.objects.using(db).filter(pk=OuterRef('slot_id')).values('gift__shop_id')[:1])
    last = 0
    while True:
        with transaction.atomic(using=db):
            ids = list(
                Shipment.objects.using(db)
                .filter(shop__isnull=True, pk__gt=last)
                .order_by('pk')
                .values_list('pk', flat=True)[:BATCH]
            )
            if not ids:
                return
            Shipment.objects.using(db).filter(pk__in=ids).update(shop_id=shop)
        last = ids[-1]


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('fulfilment', '0004_shipment_shop'),
        ('gifts', '0006_models_moved_to_their_apps'),
    ]

    operations = [
        migrations.RunPython(shipment_shop_backfill, migrations.RunPython.noop, elidable=True),
    ]
