"""The database itself refuses to change or remove timeline entries, evidence included (see
bastion/audit/guard.py)."""

from django.db import migrations


def forward(apps, schema_editor):
    from bastion.audit import guard

    guard.install(schema_editor.connection, (guard.TIMELINE,))


def backward(apps, schema_editor):
    from bastion.audit import guard

    guard.remove(schema_editor.connection, (guard.TIMELINE,))


class Migration(migrations.Migration):
    dependencies = [("incidents", "0002_updates_reviews")]
    operations = [migrations.RunPython(forward, backward)]
