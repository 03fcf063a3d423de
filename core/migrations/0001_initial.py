# The operations models move here from coinpilot_site without touching their tables: coinpilot_site's
# migrations 0001-0003 created the tables (on a fresh database too), this migration only takes them
# over in the migration state, and coinpilot_site 0004 drops them from its own state afterwards.

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('coinpilot_site', '0003_job_run_claims'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='JobRun',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('job', models.CharField(max_length=64)),
                        ('slot', models.DateTimeField(help_text='The cron slot this run belongs to (UTC).')),
                        ('claim', models.CharField(blank=True, help_text="The slot's job id: one row per scheduled slot, whatever Redis remembers.", max_length=100, null=True, unique=True)),
                        ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('success', 'Success'), ('failure', 'Failure'), ('timeout', 'Timeout'), ('skipped', 'Skipped'), ('lost', 'Lost')], default='running', max_length=16)),
                        ('started_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('heartbeat_at', models.DateTimeField(blank=True, help_text='Renewed every few seconds while the run is alive.', null=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('duration_ms', models.PositiveIntegerField(blank=True, null=True)),
                        ('worker', models.CharField(blank=True, max_length=200)),
                        ('message', models.TextField(blank=True, help_text='Summary on success, the error otherwise.')),
                    ],
                    options={
                        'db_table': 'job_runs',
                        'ordering': ['-started_at'],
                        'indexes': [
                            models.Index(fields=['job', '-started_at'], name='jobrun_job_started'),
                            models.Index(fields=['status', 'heartbeat_at'], name='jobrun_status_heartbeat'),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name='NotificationSetting',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('event', models.CharField(max_length=32, unique=True)),
                        ('enabled', models.BooleanField(default=True)),
                        ('webhook_gone', models.CharField(blank=True, help_text='Fingerprint of a webhook URL that answered 404; sending stays off until the URL changes or this is cleared.', max_length=32)),
                        ('webhook_gone_at', models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        'db_table': 'notification_settings',
                        'ordering': ['event'],
                    },
                ),
                migrations.CreateModel(
                    name='NotificationLog',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('ref', models.CharField(help_text='Outbox item id (idempotent writes).', max_length=64, unique=True)),
                        ('event', models.CharField(max_length=32)),
                        ('status', models.CharField(choices=[('sent', 'Sent'), ('failed', 'Failed')], max_length=16)),
                        ('title', models.CharField(blank=True, max_length=256)),
                        ('attempts', models.PositiveSmallIntegerField(default=0)),
                        ('last_error', models.TextField(blank=True)),
                        ('webhook', models.CharField(blank=True, help_text='Masked webhook URL.', max_length=120)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, help_text='When the event was raised.')),
                        ('finished_at', models.DateTimeField(default=django.utils.timezone.now)),
                    ],
                    options={
                        'db_table': 'notification_log',
                        'ordering': ['-created_at'],
                        'indexes': [models.Index(fields=['-created_at'], name='notiflog_created')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
