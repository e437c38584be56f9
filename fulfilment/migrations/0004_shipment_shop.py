# A waybill number unique per shop (issue #20, the waybill probe), step 1 of 3: the shop column,
# nullable while existing rows are filled in (0005), then required (0006).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('fulfilment', '0003_shipment_handed_over'),
        ('shops', '0006_product_photos'),
    ]

    operations = [
        migrations.AddField(
            model_name='shipment',
            name='shop',
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='shops.shop'
            ),
        ),
    ]
