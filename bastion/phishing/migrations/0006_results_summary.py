from django.db import migrations, models

KINDS = ("opened", "clicked", "submitted", "reported")


def summarise(apps, schema_editor):
    """What each recipient did so far, from their events (tracking.refresh_summaries)."""
    Recipient = apps.get_model("phishing", "Recipient")
    TrackingEvent = apps.get_model("phishing", "TrackingEvent")
    recipients, events = Recipient._meta.db_table, TrackingEvent._meta.db_table
    columns = []
    for kind in KINDS:
        first = (f"SELECT MIN(e.at) FROM {events} e "  # noqa: S608 - names from the models
                 f"WHERE e.recipient_id = {recipients}.id AND e.kind = '{kind}'")
        columns.append(f"first_{kind}_at = ({first})")
        columns.append(f"human_{kind}_at = ({first} AND NOT e.automated)")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"UPDATE {recipients} SET {', '.join(columns)} "  # noqa: S608 - names from the models
                       f"WHERE id IN (SELECT recipient_id FROM {events})")


class Migration(migrations.Migration):
    dependencies = [
        ("phishing", "0005_mailbox_failures_and_verified_reporters"),
    ]

    operations = [
        *[migrations.AddField(model_name="recipient", name=f"{which}_{kind}_at",
                              field=models.DateTimeField(blank=True, null=True))
          for which in ("first", "human") for kind in KINDS],
        migrations.RunPython(summarise, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="trackingevent",
            index=models.Index(condition=models.Q(("automated", True)), fields=["-at", "-id", "recipient"],
                               name="phishing_event_flagged"),
        ),
    ]
