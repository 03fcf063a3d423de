# Placeholder in the migration chain for the order-book slippage fields on trades; filled in with
# its operations by that change.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("trading", "0007_risk_limits")]

    operations = []
