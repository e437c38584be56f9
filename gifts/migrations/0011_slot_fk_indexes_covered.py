"""Drop the slot's single-column indexes on gift_id and recipient_id: the (gift_id, number) and
(recipient_id, id DESC) indexes lead with the same columns, and every write of a slot (a grab, an
accept) inserts into each index of the table.

Only the indexes go: Django's AlterField would also drop and re-add both foreign keys, which checks
every row of the table again under a lock. On PostgreSQL the indexes are dropped CONCURRENTLY (no
lock that stops writes), so the migration runs outside a transaction."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

_INDEXES = {
    "gifts_slot_gift_id_f6e4a1d1": "gift_id",
    "gifts_slot_recipient_id_b00cce24": "recipient_id",
}


def _drop(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name in _INDEXES:
        schema_editor.execute(f'DROP INDEX {concurrently}IF EXISTS "{name}"')


def _create(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name, column in _INDEXES.items():
        schema_editor.execute(f'CREATE INDEX {concurrently}IF NOT EXISTS "{name}" ON "gifts_slot" ("{column}")')


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("gifts", "0010_event_waybill_cancelled"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="slot",
                    name="gift",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="slots",
                        to="gifts.gift",
                    ),
                ),
                migrations.AlterField(
                    model_name="slot",
                    name="recipient",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="slots",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(_drop, _create)],
        ),
    ]
