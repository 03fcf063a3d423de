"""Seed version 1 of StrategyConfig and RiskConfig with the v3.1 defaults.

Only into an empty table: an existing configuration is never touched. The defaults are a frozen
copy of config/strategy_v3.yaml as it was when this migration was written: a migration must give
the same result whatever the live files say later (a key added to the YAML would otherwise be
passed to this historical model, which does not have it).
"""

from django.db import migrations

SEED = {'defaults_version': 1,
 'symbols': ['KRW-BTC', 'KRW-ETH', 'KRW-XRP', 'KRW-SOL', 'KRW-DOGE'],
 'regimes': {'BULL': {'rsi_14_max': 55,
                      'rsi_7_trigger': 35,
                      'rsi_7_recover': 40,
                      'rsi_7_lookback': 10,
                      'min_rsi_7_bounce_pct': 3.0,
                      'ma_filter': 'above',
                      'ma_proximity_pct': 3.0,
                      'require_price_above_bb_lower': True,
                      'volume_min_ratio': 0.5,
                      'volume_surge_check': False,
                      'volume_surge_ratio': 2.0,
                      'bb_enabled': False,
                      'bb_touch_lookback': 30,
                      'ai_prefilter_max_drop_pct_6h': None,
                      'take_profit_pct': 5.0,
                      'stop_loss_pct': 3.0,
                      'trailing_stop_pct': 2.0,
                      'trailing_activation_pct': 1.0,
                      'rsi_overbought': 75,
                      'rsi_exit_min_profit_pct': 1.0,
                      'time_limit_hours': 48},
             'SIDEWAYS': {'rsi_14_max': 45,
                          'rsi_7_trigger': 30,
                          'rsi_7_recover': 35,
                          'rsi_7_lookback': 10,
                          'min_rsi_7_bounce_pct': 3.0,
                          'ma_filter': 'none',
                          'ma_proximity_pct': 3.0,
                          'require_price_above_bb_lower': True,
                          'volume_min_ratio': 0.5,
                          'volume_surge_check': False,
                          'volume_surge_ratio': 2.0,
                          'bb_enabled': True,
                          'bb_touch_lookback': 30,
                          'ai_prefilter_max_drop_pct_6h': None,
                          'take_profit_pct': 3.0,
                          'stop_loss_pct': 2.5,
                          'trailing_stop_pct': 1.5,
                          'trailing_activation_pct': 1.0,
                          'rsi_overbought': 70,
                          'rsi_exit_min_profit_pct': 0.5,
                          'time_limit_hours': 24},
             'BEAR': {'rsi_14_max': 40,
                      'rsi_7_trigger': 25,
                      'rsi_7_recover': 30,
                      'rsi_7_lookback': 10,
                      'min_rsi_7_bounce_pct': 3.0,
                      'ma_filter': 'proximity_or_above',
                      'ma_proximity_pct': 3.0,
                      'require_price_above_bb_lower': True,
                      'volume_min_ratio': 0.5,
                      'volume_surge_check': True,
                      'volume_surge_ratio': 2.0,
                      'bb_enabled': False,
                      'bb_touch_lookback': 30,
                      'ai_prefilter_max_drop_pct_6h': 5.0,
                      'take_profit_pct': 2.5,
                      'stop_loss_pct': 2.0,
                      'trailing_stop_pct': 1.2,
                      'trailing_activation_pct': 0.8,
                      'rsi_overbought': 65,
                      'rsi_exit_min_profit_pct': 0.5,
                      'time_limit_hours': 8}},
 'risk': {'max_position_size_pct': '5',
          'max_total_exposure_pct': '20',
          'max_concurrent_positions': 3,
          'max_daily_loss_pct': '5',
          'max_daily_trades': 10,
          'consecutive_loss_limit': 3,
          'cooldown_hours': '2',
          'min_order_krw': '5000'}}


def seed(apps, schema_editor):
    StrategyConfig = apps.get_model("trading", "StrategyConfig")
    RiskConfig = apps.get_model("trading", "RiskConfig")
    note = f"seeded from strategy_v3.yaml (defaults_version {SEED['defaults_version']})"
    if not StrategyConfig.objects.exists():
        StrategyConfig.objects.create(
            version=1, is_active=True, note=note, symbols=SEED["symbols"], params=SEED["regimes"]
        )
    if not RiskConfig.objects.exists():
        RiskConfig.objects.create(version=1, is_active=True, note=note, **SEED["risk"])


class Migration(migrations.Migration):
    dependencies = [("trading", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
