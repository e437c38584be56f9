"""What the migrations of the app split share: moving models' content types to their new app, so
their permissions and admin history follow them. Keep it stable: migrations import it."""

from django.db import migrations


def move_content_types(*, old_app: str, new_app: str, models: list[str]) -> migrations.RunPython:
    def relabel(apps, source: str, target: str) -> None:
        content_type = apps.get_model("contenttypes", "ContentType")
        content_type.objects.filter(app_label=source, model__in=models).update(app_label=target)

    return migrations.RunPython(
        lambda apps, _schema: relabel(apps, old_app, new_app),
        lambda apps, _schema: relabel(apps, new_app, old_app),
    )
