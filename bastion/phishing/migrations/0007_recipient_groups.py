import django.db.models.deletion
from django.db import migrations, models


def snapshot(apps, schema_editor):
    """Existing recipients take their person's department and manager as they are now (the
    nearest to what they were when the campaign was created that is still known)."""
    Recipient = apps.get_model("phishing", "Recipient")
    Person = apps.get_model("people", "Person")
    recipients, people = Recipient._meta.db_table, Person._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"UPDATE {recipients} SET "  # noqa: S608 - names from the models
                       f"department = (SELECT p.department FROM {people} p WHERE p.id = {recipients}.person_id), "
                       f"manager_id = (SELECT p.manager_id FROM {people} p WHERE p.id = {recipients}.person_id)")


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0003_person_list_and_search_indexes"),
        ("phishing", "0006_results_summary"),
    ]

    operations = [
        migrations.AddField(
            model_name="recipient",
            name="department",
            field=models.CharField(blank=True, help_text="At creation", max_length=100),
        ),
        migrations.AddField(
            model_name="recipient",
            name="manager",
            field=models.ForeignKey(blank=True, help_text="At creation", null=True,
                                    on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                                    to="people.person"),
        ),
        migrations.RunPython(snapshot, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="recipient",
            index=models.Index(fields=["campaign", "department"], name="phishing_recipient_department"),
        ),
        migrations.AddIndex(
            model_name="recipient",
            index=models.Index(fields=["campaign", "manager"], name="phishing_recipient_manager"),
        ),
    ]
