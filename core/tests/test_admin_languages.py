"""The admin speaks the operator's language: model, field and choice labels, actions and messages."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.models import AccessToken
from core.models import JobRun

pytestmark = pytest.mark.django_db

KOREAN = {"HTTP_ACCEPT_LANGUAGE": "ko"}
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def boss(client):
    user = get_user_model().objects.create_superuser("boss", password="pw-123456789-long")
    client.force_login(user)
    return user


def test_the_job_runs_list_in_korean_and_in_english(client, boss):
    JobRun.objects.create(job="collect", slot=timezone.now(), status=JobRun.Status.SUCCESS, duration_ms=1234)

    korean = client.get("/admin/core/jobrun/", **KOREAN).content.decode()
    # Site header, app, model, column headers, the filter's title and the stored value's label.
    for text in (
        "CoinPilot 관리자",
        "운영",
        "작업 실행",
        "소요 시간 (ms)",
        "시작 시각",
        "상태 (으)로",
        "성공",
    ):
        assert text in korean, text
    assert "Duration (ms)" not in korean and "Started at" not in korean

    english = client.get("/admin/core/jobrun/", **ENGLISH).content.decode()
    for text in (
        "CoinPilot administration",
        "Operations",
        "Job runs",
        "Duration (ms)",
        "Started at",
        "Success",
    ):
        assert text in english, text
    assert "소요 시간" not in english
    assert JobRun.objects.get().status == "success"  # the stored value never changes with the language


def test_the_token_form_and_its_errors_in_korean_and_in_english(client, boss):
    clerk = get_user_model().objects.create_user("clerk", password="pw-123456789-long")
    form = {"user": clerk.pk, "name": "phone", "scope": "control"}

    korean = client.post("/admin/api/accesstoken/add/", form, **KOREAN).content.decode()
    assert "범위" in korean and "read (GET 엔드포인트만)" in korean  # field label, choice label
    assert "clerk 사용자는 거래 제어를 변경할 수 없습니다" in korean  # the form's error

    english = client.post("/admin/api/accesstoken/add/", form, **ENGLISH).content.decode()
    assert "Scope" in english and "read (GET endpoints only)" in english
    assert "clerk may not change trading controls" in english
    assert not AccessToken.objects.exists()

    created = client.post("/admin/api/accesstoken/add/", {**form, "scope": "read"}, **KOREAN).content.decode()
    assert "API 토큰 생성됨" in created and "지금 복사하세요" in created
    revoked = client.post(
        "/admin/api/accesstoken/",
        {"action": "revoke", "_selected_action": [AccessToken.objects.get().pk]},
        follow=True,
        **KOREAN,
    ).content.decode()
    assert "토큰 1개를 폐기했습니다" in revoked


@pytest.mark.parametrize(
    ("url", "korean"),
    [
        ("/admin/core/notificationsetting/", "알림 설정"),
        ("/admin/core/notificationlog/", "알림 기록"),
        ("/admin/agents/agentdecision/", "AI 판단"),
        ("/admin/agents/chatmessage/", "대화 메시지"),
        ("/admin/analytics/tuningsuggestion/", "튜닝 제안"),
        ("/admin/lab/study/", "최적화 연구"),
        ("/admin/lab/lookaheadcheck/", "미래 참조 검사"),
        ("/admin/api/accesstoken/", "API 토큰"),
    ],
)
def test_every_list_of_these_apps_is_in_korean(client, boss, url: str, korean: str):
    page = client.get(url, **KOREAN)
    assert page.status_code == 200 and korean in page.content.decode()


def test_the_job_runs_list_filters_by_the_scheduled_jobs_without_reading_every_run(client, boss):
    now = timezone.now()
    JobRun.objects.create(job="bot_cycle", slot=now, status=JobRun.Status.SUCCESS, duration_ms=10)
    JobRun.objects.create(job="heartbeat", slot=now, status=JobRun.Status.FAILURE, duration_ms=20)
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/admin/core/jobrun/").content.decode()
    assert "?job=bot_cycle" in page and "?job=update_regime" in page  # the schedule's jobs, none ran
    assert not [q for q in queries.captured_queries if "DISTINCT" in q["sql"]]
    shown = client.get("/admin/core/jobrun/?job=heartbeat").context["cl"].result_list
    assert [run.job for run in shown] == ["heartbeat"]
