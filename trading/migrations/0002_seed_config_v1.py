"""Seed version 1 of StrategyConfig and RiskConfig from config/strategy_v3.yaml (SPEC 5 and 6).

Only into an empty table: an existing configuration is never touched.
"""

from pathlib import Path

import yaml
from django.db import migrations

DEFAULTS = Path(__file__).resolve().parents[2] / "config" / "strategy_v3.yaml"


def seed(apps, schema_editor):
    data = yaml.safe_load(DEFAULTS.read_text())
    StrategyConfig = apps.get_model("trading", "StrategyConfig")
    RiskConfig = apps.get_model("trading", "RiskConfig")
    note = f"seeded from {DEFAULTS.name} (defaults_version {data['defaults_version']})"
    if not StrategyConfig.objects.exists():
        StrategyConfig.objects.create(
            version=1, is_active=True, note=note, symbols=data["symbols"], params=data["regimes"]
        )
    if not RiskConfig.objects.exists():
        RiskConfig.objects.create(version=1, is_active=True, note=note, **data["risk"])


class Migration(migrations.Migration):
    dependencies = [("trading", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
