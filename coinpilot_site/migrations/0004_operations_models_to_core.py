# JobRun, NotificationLog and NotificationSetting now belong to core (core/migrations/0001): drop
# them from this app's migration state only; their tables stay as they are.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('coinpilot_site', '0003_job_run_claims'),
        ('core', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='JobRun'),
                migrations.DeleteModel(name='NotificationLog'),
                migrations.DeleteModel(name='NotificationSetting'),
            ],
            database_operations=[],
        ),
    ]
