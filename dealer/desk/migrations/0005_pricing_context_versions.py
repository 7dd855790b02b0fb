"""The pricing context's versions as PostgreSQL sequences (`dealer.desk.context_versions`)."""
from django.db import migrations

PARTS = ("reference", "book", "market")


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for part in PARTS:
        schema_editor.execute(f"CREATE SEQUENCE IF NOT EXISTS desk_ctx_{part}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for part in PARTS:
        schema_editor.execute(f"DROP SEQUENCE IF EXISTS desk_ctx_{part}")


class Migration(migrations.Migration):
    dependencies = [("desk", "0004_rfq_path_indexes")]
    operations = [migrations.RunPython(create, drop)]
