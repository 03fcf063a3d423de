# Placeholder in the migration chain for Upbit's market list (cached in the database); filled in
# with its operations by that change.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("market", "0006_volatility_fits")]

    operations = []
