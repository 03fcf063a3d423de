"""JobRun, NotificationLog and NotificationSetting moved from coinpilot_site to core: a database made
before the move keeps its tables, rows, content types and the permissions granted on them."""

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from core.models import JobRun, NotificationSetting

BEFORE_THE_MOVE = [("coinpilot_site", "0003_job_run_claims"), ("core", None)]
MOVED = ["jobrun", "notificationlog", "notificationsetting"]


def migrate(targets: list | None = None):
    """Migrate the test database to `targets` (default: the newest); the state's models there."""
    executor = MigrationExecutor(connection)
    return executor.migrate(targets or executor.loader.graph.leaf_nodes()).apps


def test_the_move_runs_after_the_tables_exist_and_changes_no_table():
    graph = MigrationLoader(None).graph  # the files alone, no database
    order = graph.forwards_plan(("coinpilot_site", "0004_operations_models_to_core"))
    assert order.index(("coinpilot_site", "0003_job_run_claims")) < order.index(("core", "0001_initial"))
    for key in [("core", "0001_initial"), ("coinpilot_site", "0004_operations_models_to_core")]:
        [move] = graph.nodes[key].operations
        assert move.database_operations == []


@pytest.mark.django_db(transaction=True)  # the migrations run outside a test transaction
def test_a_database_made_before_the_move_keeps_its_rows_and_permissions():
    old = migrate(BEFORE_THE_MOVE)
    content_type = old.get_model("contenttypes", "ContentType")
    assert set(content_type.objects.filter(model__in=MOVED).values_list("app_label", flat=True)) == {
        "coinpilot_site"
    }
    old.get_model("coinpilot_site", "JobRun").objects.create(
        job="heartbeat", slot=timezone.now(), claim="sched-heartbeat-1", status="success"
    )
    # Created here: a transactional test before this one may have emptied the migration's rows.
    old.get_model("coinpilot_site", "NotificationSetting").objects.update_or_create(
        event="trade", defaults={"enabled": False}
    )
    operators = old.get_model("auth", "Group").objects.create(name="operators")
    operators.permissions.add(
        old.get_model("auth", "Permission").objects.get(
            content_type__app_label="coinpilot_site", codename="change_notificationsetting"
        )
    )

    migrate()
    ContentType.objects.clear_cache()

    assert JobRun.objects.get(claim="sched-heartbeat-1").status == "success"
    assert not NotificationSetting.objects.get(event="trade").enabled
    assert set(ContentType.objects.filter(model__in=MOVED).values_list("app_label", flat=True)) == {"core"}
    user = User.objects.create_user("operator")
    user.groups.add(Group.objects.get(name="operators"))
    assert user.has_perm("core.change_notificationsetting")
