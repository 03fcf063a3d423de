# The moved models keep their content type rows, relabelled coinpilot_site -> core: the permissions
# granted on them and the admin's history point at those rows and stay valid. A fresh database has
# no such rows yet (post_migrate creates them for core after the migrations).

from django.db import migrations

MODELS = ["jobrun", "notificationlog", "notificationsetting"]


def relabel(old, new):
    def run(apps, schema_editor):
        rows = apps.get_model("contenttypes", "ContentType").objects.using(schema_editor.connection.alias)
        for model in MODELS:
            if not rows.filter(app_label=new, model=model).exists():
                rows.filter(app_label=old, model=model).update(app_label=new)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('core', '0001_initial'),
    ]

    operations = [
        migrations.RunPython(relabel("coinpilot_site", "core"), relabel("core", "coinpilot_site")),
    ]
