"""Incident features after declaration: the team's timeline entries, internal notifications sent
by email from Bastion (the addresses they went to) and final status updates (no next update)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("incidents", "0003_timeline_append_only")]

    operations = [
        migrations.AddField(
            model_name="notificationdue",
            name="emailed_to",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="statusupdate",
            name="final",
            field=models.BooleanField(default=False,
                                      help_text="The last update: the incident is resolved, none follows"),
        ),
        migrations.AlterField(
            model_name="statusupdate",
            name="next_update_at",
            field=models.DateTimeField(blank=True, null=True,
                                       help_text="When the next update comes (none after a final update)"),
        ),
        migrations.AlterField(
            model_name="timelineentry",
            name="kind",
            field=models.CharField(choices=[
                ("note", "Note"), ("evidence", "Evidence"), ("declared", "Declared"), ("status", "Status"),
                ("severity", "Severity"), ("facts", "Facts"), ("step", "Checklist"), ("deviation", "Deviation"),
                ("notification", "Notification"), ("law_enforcement", "Law enforcement"),
                ("update", "Status update"), ("review", "Post-incident review"), ("team", "Team")], max_length=20),
        ),
    ]
