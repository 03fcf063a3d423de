# Placeholder in the migration chain for the risk-limit changes (weekly loss limit, unrealised
# daily loss); filled in with its operations by that change.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("trading", "0006_symbol_state")]

    operations = []
