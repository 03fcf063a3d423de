# Placeholder in the migration chain for recording each candle's source; filled in with its
# operations by that change.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("market", "0007_upbit_markets")]

    operations = []
