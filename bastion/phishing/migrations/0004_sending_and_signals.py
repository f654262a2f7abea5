"""Sending and tracking robustness: temporary refusals counted per recipient (deferrals), the
"no human signal" rule (its settings, the click's human_at and the index of clicks it has still
to decide on), and the campaign's results_changed_at (part of its results' cache key)."""

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("phishing", "0003_reporting_mailbox")]

    operations = [
        migrations.AddField(
            model_name="campaign",
            name="results_changed_at",
            field=models.DateTimeField(blank=True, null=True, help_text="When hits already recorded were flagged "
                                                                        "later (results' cache key)"),
        ),
        migrations.AddField(
            model_name="recipient",
            name="deferrals",
            field=models.PositiveSmallIntegerField(default=0, help_text="Times the mail server said “try later”"),
        ),
        migrations.AddField(
            model_name="trackingevent",
            name="human_at",
            field=models.DateTimeField(blank=True, null=True, help_text="A click: when a person interacted with "
                                                                        "the landing page after it"),
        ),
        migrations.AddField(
            model_name="trackingrules",
            name="no_human_signal",
            field=models.BooleanField(default=False, help_text="Flag clicks no person followed up on the landing "
                                                               "page"),
        ),
        migrations.AddField(
            model_name="trackingrules",
            name="no_human_signal_seconds",
            field=models.PositiveIntegerField(default=120, validators=[
                django.core.validators.MinValueValidator(10), django.core.validators.MaxValueValidator(86400)]),
        ),
        migrations.AddField(
            model_name="trackingrules",
            name="no_human_signal_since",
            field=models.DateTimeField(blank=True, null=True, help_text="When the rule was switched on: it judges "
                                                                        "clicks from then"),
        ),
        migrations.AlterField(
            model_name="trackingevent",
            name="rule",
            field=models.CharField(blank=True, max_length=32, choices=[
                ("head-request", "A HEAD request (browsers follow links with GET)"),
                ("too-soon", "Within seconds of delivery"),
                ("scanner-agent", "A known scanner's user agent"),
                ("scanner-network", "From a network the admin listed as scanners"),
                ("no-human-signal", "A click no person followed up on the landing page"),
            ]),
        ),
        migrations.AddIndex(
            model_name="trackingevent",
            index=models.Index(fields=["at"], name="phishing_click_unconfirmed",
                               condition=models.Q(("automated", False), ("human_at__isnull", True),
                                                  ("kind", "clicked"))),
        ),
    ]
