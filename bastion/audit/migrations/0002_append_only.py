"""The database itself refuses to change or remove audit entries (see bastion/audit/guard.py)."""

from django.db import migrations


def forward(apps, schema_editor):
    from bastion.audit import guard

    guard.install(schema_editor.connection, (guard.AUDIT,))


def backward(apps, schema_editor):
    from bastion.audit import guard

    guard.remove(schema_editor.connection, (guard.AUDIT,))


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
