"""The reporting mailbox (IMAP), the messages taken from it and the reported emails to triage."""

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import bastion.phishing.models


class Migration(migrations.Migration):

    dependencies = [
        ('people', '0003_person_list_and_search_indexes'),
        ('phishing', '0002_webhooks'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ReportingMailbox',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=200, unique=True)),
                ('host', models.CharField(max_length=253)),
                ('port', models.PositiveIntegerField(default=993, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(65535)])),
                ('security', models.CharField(choices=[('tls', 'Implicit TLS (IMAPS, usually port 993)'), ('starttls', 'STARTTLS (usually port 143)'), ('none', 'None: plaintext (loopback only, unless explicitly allowed)')], default='tls', max_length=16)),
                ('allow_plaintext', models.BooleanField(default=False, help_text='Allow plaintext IMAP to a host that is not loopback (the password crosses the network unencrypted)')),
                ('username', models.CharField(max_length=200)),
                ('password', models.CharField(blank=True, max_length=500)),
                ('folder', models.CharField(default='INBOX', max_length=200, validators=[bastion.phishing.models.validate_folder])),
                ('processed_folder', models.CharField(blank=True, help_text='Processed mail is moved here; blank: it stays, flagged \\Seen and $BastionProcessed', max_length=200, validators=[bastion.phishing.models.validate_folder])),
                ('enabled', models.BooleanField(default=True)),
                ('last_poll_at', models.DateTimeField(blank=True, null=True)),
                ('last_success_at', models.DateTimeField(blank=True, null=True)),
                ('last_error', models.TextField(blank=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['name', 'id'],
            },
        ),
        migrations.CreateModel(
            name='ReportedEmail',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('reporter_email', models.CharField(blank=True, max_length=320)),
                ('received_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('message_id', models.CharField(blank=True, max_length=500)),
                ('subject', models.CharField(blank=True, help_text='Of the reported email', max_length=1000)),
                ('original_from', models.CharField(blank=True, max_length=1000)),
                ('original_to', models.TextField(blank=True)),
                ('original_date', models.DateTimeField(blank=True, null=True)),
                ('headers', models.JSONField(default=list, help_text='[[name, value], …] of the reported email')),
                ('body_text', models.TextField(blank=True, help_text='Its text, extracted; never rendered as HTML')),
                ('urls', models.JSONField(default=list)),
                ('attachments', models.JSONField(default=list, help_text='[{name, content_type, size, sha256}, …]')),
                ('problems', models.JSONField(default=list, help_text='What could not be parsed')),
                ('raw', models.BinaryField(help_text='The message as received (cut at the size cap)')),
                ('raw_size', models.PositiveBigIntegerField(help_text='Its full size in bytes')),
                ('sha256', models.CharField(help_text='Of the bytes kept', max_length=64)),
                ('status', models.CharField(choices=[('new', 'New'), ('triaging', 'Triaging'), ('resolved', 'Resolved')], default='new', max_length=16)),
                ('verdict', models.CharField(blank=True, choices=[('', 'Not decided'), ('phishing', 'Phishing'), ('spam', 'Spam'), ('harmless', 'Harmless'), ('simulation', 'Our simulation')], default='', max_length=16)),
                ('note', models.TextField(blank=True)),
                ('triaged_at', models.DateTimeField(blank=True, null=True)),
                ('thanked_at', models.DateTimeField(blank=True, help_text='When the reporter was thanked by email', null=True)),
                ('assigned_to', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('reporter', models.ForeignKey(blank=True, help_text='Matched by the From address', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='people.person')),
                ('triaged_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('mailbox', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='reports', to='phishing.reportingmailbox')),
            ],
            options={
                'ordering': ['-received_at', '-id'],
                'indexes': [models.Index(fields=['status', 'received_at', 'id'], name='phishing_re_status_d2570a_idx')],
            },
        ),
        migrations.CreateModel(
            name='MailboxMessage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('uidvalidity', models.BigIntegerField()),
                ('uid', models.BigIntegerField()),
                ('message_id', models.CharField(blank=True, max_length=500)),
                ('kind', models.CharField(choices=[('simulation', 'A forwarded simulation (recorded as reported)'), ('report', 'A reported email (to triage)'), ('bounce', 'A bounce (delivery status notification)'), ('auto-reply', 'An automatic reply'), ('duplicate', 'Already processed (same Message-ID)')], max_length=16)),
                ('sender', models.CharField(blank=True, help_text='The From address of the message', max_length=320)),
                ('note', models.TextField(blank=True, help_text='What was decided and why')),
                ('received_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('recipient', models.ForeignKey(blank=True, help_text='The simulation recipient it names (simulation or bounce)', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='phishing.recipient')),
                ('mailbox', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='messages', to='phishing.reportingmailbox')),
            ],
            options={
                'ordering': ['-received_at', '-id'],
                'indexes': [models.Index(fields=['mailbox', 'message_id'], name='phishing_ma_mailbox_61c45c_idx')],
                'constraints': [models.UniqueConstraint(fields=('mailbox', 'uidvalidity', 'uid'), name='phishing_mailbox_message_once')],
            },
        ),
    ]
