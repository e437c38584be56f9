# Product photos become uploaded files (ImageField, stored through Django's storage API).
#
# Until now `image` held a path under /static/ (the demo's category icons, e.g. "img/tea.svg"):
# not a stored file, and SVG is not an accepted photo type. Those values are cleared, so such a
# product shows the placeholder until its merchant uploads a photo (`load_demo` draws one for each
# demo product). The column keeps its name and type (varchar 200): nothing else moves.

import shops.images
from django.db import migrations, models


def clear_static_paths(apps, schema_editor):
    Product = apps.get_model("shops", "Product")
    Product.objects.exclude(image="").update(image="")


class Migration(migrations.Migration):

    dependencies = [
        ('shops', '0005_shop_courier_company_ship_from'),
    ]

    operations = [
        migrations.AddField(
            model_name='sku',
            name='image',
            field=models.ImageField(blank=True, help_text="Optional: this 款式's own photo (e.g. its colour); else the product's photo is shown.", max_length=200, upload_to=shops.images.photo_upload_to, validators=[shops.images.validate_photo], verbose_name='photo'),
        ),
        migrations.AlterField(
            model_name='product',
            name='image',
            field=models.ImageField(blank=True, help_text='JPEG, PNG or WebP, at most 5 MB, 200 to 4096 pixels a side; square looks best.', max_length=200, upload_to=shops.images.photo_upload_to, validators=[shops.images.validate_photo], verbose_name='photo'),
        ),
        migrations.RunPython(clear_static_paths, migrations.RunPython.noop),
    ]
