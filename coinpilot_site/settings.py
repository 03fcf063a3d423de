"""CoinPilot settings: everything comes from the environment; every default is safe for money.

See `.env.example` for the full list of variables.
"""

import logging
import os
from datetime import timedelta
from pathlib import Path

import environ
import plotly
from django.core.exceptions import ImproperlyConfigured

from coinpilot_site.security_settings import client_address_settings, inline_script_hashes
from core import i18n
from core.env_bounds import Env, check_numbers
from core.errors import default_release, init_error_tracking
from core.logging_format import formatters, log_format
from core.notifications.config import parse_chat_ids as parse_alert_chats
from core.notifications.config import parse_events as parse_alert_events

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("COINPILOT_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = Env()  # environ.Env that names the variable when a value cannot be read
if (BASE_DIR / ".env").exists() and os.environ.get("COINPILOT_READ_DOTENV", "1") == "1":
    environ.Env.read_env(BASE_DIR / ".env")  # never overrides a variable that is already set

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off (see .env.example).")
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Prometheus: metrics written by RQ work horses reach the web /metrics through this directory.
# It must be in the environment before prometheus_client is first imported, i.e. here.
PROMETHEUS_MULTIPROC_DIR = Path(
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "prometheus"))
)
PROMETHEUS_MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
COINPILOT_METRICS_COLLECTORS = [
    "trading.metrics.TradingCollector",
    "agents.metrics.AgentsCollector",
    "core.collectors.OperationsCollector",
    "analytics.fill_drift.FillDriftCollector",
]
# The database's disk as this process sees it (compose mounts the PostgreSQL volume here read-only):
# /metrics reports its free space. Empty: SQLite's folder, or nothing for a remote database.
DATABASE_DISK_PATH = env.str("DATABASE_DISK_PATH", default="")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "django_rq",
    "axes",  # login lock-out (coinpilot_site/login_lockout.py)
    "core",  # the ground floor: infrastructure every app may use
    "coinpilot_site",
    "market",
    "trading",
    "agents",
    "analytics",
    "lab",  # the Strategy lab: Optuna studies over the backtester
    "remote",  # remote control: the Telegram bot (manage.py run_telegram)
    "api",  # the token API (/api/v1/), beside coinpilot_site on the top floor
    "ninja",  # django-ninja's own static files: the API docs page is served offline
]

MIDDLEWARE = [
    "coinpilot_site.middleware.request_id",  # first: every later line of the request carries its id
    "coinpilot_site.middleware.server_timing",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # cookie, Accept-Language, COINPILOT_LANGUAGE
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "coinpilot_site.middleware.preferred_language",  # a signed-in user's saved language wins
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lock-out into the lock-out page
]

ROOT_URLCONF = "coinpilot_site.urls"
WSGI_APPLICATION = "coinpilot_site.wsgi.application"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
LOGIN_MAX_FAILURES = env.int("LOGIN_MAX_FAILURES", default=5)  # per username from one client address
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=900)
# Login lock-out (django-axes): a username from one client address, never an address alone (behind
# a reverse proxy every client may share one), counted before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "core.auth_backend.ModelBackend",  # Django's, with a cheaper read of the signed-in user
]
AXES_HANDLER = "coinpilot_site.login_lockout.CountFirstHandler"
AXES_FAILURE_LIMIT = LOGIN_MAX_FAILURES
AXES_COOLOFF_TIME = timedelta(seconds=LOGIN_LOCKOUT_SECONDS)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "coinpilot_site.login_lockout.lockout_page"
AXES_VERBOSE = False  # no start-up banner; coinpilot_site/login_lockout.py logs each lock-out
# The client address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT reverse proxies the entry of
# X-Forwarded-For that the first proxy appended (coinpilot_site/security_settings.py).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
_client_address = client_address_settings(TRUSTED_PROXY_COUNT)
AXES_IPWARE_META_PRECEDENCE_ORDER = _client_address["AXES_IPWARE_META_PRECEDENCE_ORDER"]
AXES_IPWARE_PROXY_COUNT = _client_address["AXES_IPWARE_PROXY_COUNT"]
AXES_IPWARE_PROXY_ORDER = "left-most"
IPWARE_STRICT = False  # a chain longer than the proxies (client-written entries) still resolves

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "coinpilot_site.context_processors.trading_mode",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# Empty (as in .env.example) = unset: the embedded default's SQLite file.
DATABASE_URL = env.str("DATABASE_URL", default="")
DATABASES = {
    "default": env.db_url_config(DATABASE_URL or f"sqlite:///{VAR_DIR / 'coinpilot.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and scheduler share the file: WAL lets readers run beside the one writer, and
    # IMMEDIATE transactions take the write lock up front instead of failing on upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis and RQ -----------------------------------------------------------------------------
# Empty REDIS_URL = the embedded default: an in-process fakeredis server (tests, one process).
# `manage.py run_embedded` instead serves fakeredis on loopback and sets REDIS_URL for its
# children, so the web, worker and scheduler processes share it.
REDIS_URL = env.str("REDIS_URL", default="")
# The embedded default (SQLite + fakeredis, one machine) is implied by DEBUG and must be asked for
# with DEBUG off (dev.py, run_embedded and the test settings set COINPILOT_EMBEDDED=1). Otherwise a
# system check refuses to start without REDIS_URL and a PostgreSQL DATABASE_URL (core/checks.py).
COINPILOT_EMBEDDED = env.bool("COINPILOT_EMBEDDED", default=DEBUG)
if REDIS_URL:
    _RQ_CONNECTION = {"URL": REDIS_URL}
elif not COINPILOT_EMBEDDED:
    # Refused at start by the check; a command that skips checks (collectstatic) never uses it.
    _RQ_CONNECTION = {"URL": "redis://redis-url-is-not-set.invalid:6379/0"}
else:
    import fakeredis
    import redis

    _RQ_CONNECTION = {
        "HOST": "embedded-fakeredis",
        "PORT": 0,
        "REDIS_CLIENT_KWARGS": {
            "connection_pool": redis.ConnectionPool(
                connection_class=fakeredis.FakeRedisConnection, server=fakeredis.FakeServer()
            )
        },
    }
RQ_QUEUE_NAMES = ("bot", "market", "default", "notifications", "lab")  # lab: the Strategy lab's trials
RQ_QUEUES = {name: dict(_RQ_CONNECTION, DEFAULT_TIMEOUT=300) for name in RQ_QUEUE_NAMES}
# What pages compute that is costly (core/caching.py), shared by every web process in Redis: keys
# break on new rows, values live a minute, nothing in it is needed for correctness. Short socket
# timeouts: a page computes without the cache rather than wait. The in-process embedded default
# (no REDIS_URL, one process) keeps it in memory. Never cache.clear(): on Redis that is FLUSHDB,
# the queues included.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "core.page_cache.SharedClientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "coinpilot:page",
            "TIMEOUT": 60,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "TIMEOUT": 60}}
RQ = {"WORKER_CLASS": "core.worker.CoinPilotWorker"}
# Imported by each worker as it starts, before it takes a job, so that no job imports them again in
# its freshly forked horse (seconds each): what the jobs use but the apps import only on first use.
RQ_WORKER_PRELOAD = ("scipy.signal", "arch", "anthropic", "openai", "lab.study")
# A worker that serves only these queues skips it: their jobs (alert delivery) use none of those
# modules, and the preload is most of a worker's start (12 s against 6 s of CPU on a slow 2-core box).
RQ_QUEUES_WITHOUT_PRELOAD = ("notifications",)
# The same for each gunicorn web worker (gunicorn.conf.py): what the Market chart's RSI needs, and
# every page's view (the URLconf), imported before the worker freezes its start-up objects.
WEB_WORKER_PRELOAD = ("scipy.signal", ROOT_URLCONF)
RQ_SHOW_ADMIN_LINK = True

# Every periodic job is declared in this table (see coinpilot_site/schedule.py).
COINPILOT_SCHEDULE = env.str("COINPILOT_SCHEDULE", default="coinpilot_site.schedule.SCHEDULES")
SCHEDULER_HEARTBEAT_TTL = 15  # seconds; the System page calls the scheduler dead after this
# A running job renews its lock and its JobRun heartbeat this often; a run silent for the stale
# time is dead (alerted as lost) and no longer blocks its next slot, whatever its time limit.
JOB_HEARTBEAT_SECONDS = 3
JOB_HEARTBEAT_STALE_SECONDS = 15
# The job run records are kept this long (the System page reads 24 hours and each job's latest run);
# the daily forget_old_job_runs deletes older ones.
JOB_RUNS_KEEP_DAYS = env.int("JOB_RUNS_KEEP_DAYS", default=90)

# --- Trading: paper by default, live only on explicit opt-in ---------------------------------
COINPILOT_LIVE_TRADING = env.bool("COINPILOT_LIVE_TRADING", default=False)
UPBIT_ACCESS_KEY = env.str("UPBIT_ACCESS_KEY", default="")
UPBIT_SECRET_KEY = env.str("UPBIT_SECRET_KEY", default="")
UPBIT_BASE_URL = env.str("UPBIT_BASE_URL", default="https://api.upbit.com")
COINPILOT_MARKET_SOURCE = env.str("COINPILOT_MARKET_SOURCE", default="sim")

# --- Market data ------------------------------------------------------------------------------
COINPILOT_SIM_SEED = env.int("COINPILOT_SIM_SEED", default=42)
# The collector asks this function (imported lazily: market never imports trading) for the
# active symbols, and falls back to the default list when it fails or returns nothing.
COINPILOT_SYMBOLS_PROVIDER = env.str("COINPILOT_SYMBOLS_PROVIDER", default="trading.config.active_symbols")
COINPILOT_DEFAULT_SYMBOLS = env.list(
    "COINPILOT_DEFAULT_SYMBOLS", default=["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE"]
)
COINPILOT_COLLECTOR_THREADS = env.int("COINPILOT_COLLECTOR_THREADS", default=4)
# At most this many symbols may be active (checked when a strategy version is saved): the
# collector and the bot cycle are sized for 100 symbols a minute.
MAX_ACTIVE_SYMBOLS = env.str("MAX_ACTIVE_SYMBOLS", default="50").strip()
if not MAX_ACTIVE_SYMBOLS.isdigit() or not 1 <= int(MAX_ACTIVE_SYMBOLS) <= 100:
    raise ImproperlyConfigured(f"MAX_ACTIVE_SYMBOLS must be a whole number 1-100, not {MAX_ACTIVE_SYMBOLS!r}")
MAX_ACTIVE_SYMBOLS = int(MAX_ACTIVE_SYMBOLS)
# Upbit allows 10 quotation requests/s per IP; 9.5 with burst 1 never puts 11 in one second.
UPBIT_RATE_PER_SEC = env.float("UPBIT_RATE_PER_SEC", default=9.5)
UPBIT_TIMEOUT_SECONDS = env.float("UPBIT_TIMEOUT_SECONDS", default=5.0)
COINPILOT_PAPER_INITIAL_KRW = env.str("COINPILOT_PAPER_INITIAL_KRW", default="10000000")
COINPILOT_PAPER_SLIPPAGE_BPS = env.str("COINPILOT_PAPER_SLIPPAGE_BPS", default="5")
# Live executor (only with COINPILOT_LIVE_TRADING): Upbit's exchange limits are 8 orders/s and
# 30 other private requests/s per account; a sent market order is polled until done or cancel.
UPBIT_ORDER_RATE_PER_SEC = env.float("UPBIT_ORDER_RATE_PER_SEC", default=8.0)
UPBIT_EXCHANGE_RATE_PER_SEC = env.float("UPBIT_EXCHANGE_RATE_PER_SEC", default=30.0)
UPBIT_ORDER_POLL_TIMEOUT_SECONDS = env.float("UPBIT_ORDER_POLL_TIMEOUT_SECONDS", default=15.0)
UPBIT_ORDER_POLL_INTERVAL_SECONDS = env.float("UPBIT_ORDER_POLL_INTERVAL_SECONDS", default=0.5)
# Reconciliation: a PENDING order Upbit does not know is marked FAILED only once it is this old
# (it may still be in flight); KRW cash may differ from Upbit's by this much before it alerts.
COINPILOT_RECONCILE_GRACE_SECONDS = env.float("COINPILOT_RECONCILE_GRACE_SECONDS", default=60.0)
COINPILOT_RECONCILE_KRW_TOLERANCE = env.str("COINPILOT_RECONCILE_KRW_TOLERANCE", default="1")
# A held position with neither a candle nor a ticker price for this long gets a `system` alert
# (its stop loss cannot fire). The bot cycle runs once a minute, so less than 60 s means nothing.
UNPROTECTED_ALERT_SECONDS = env.str("UNPROTECTED_ALERT_SECONDS", default="180").strip()
if not UNPROTECTED_ALERT_SECONDS.isdigit() or not 60 <= int(UNPROTECTED_ALERT_SECONDS) <= 86400:
    raise ImproperlyConfigured(
        f"UNPROTECTED_ALERT_SECONDS must be whole seconds, 60 to 86400; got {UNPROTECTED_ALERT_SECONDS!r}"
    )
UNPROTECTED_ALERT_SECONDS = int(UNPROTECTED_ALERT_SECONDS)

# --- Strategy and volatility (the strategy parameters themselves are versioned in the database) --
# GARCH volatility is fitted on this market; the risk manager halves entries while it is high.
COINPILOT_VOLATILITY_SYMBOL = env.str("COINPILOT_VOLATILITY_SYMBOL", default="KRW-BTC")
COINPILOT_HIGH_VOLATILITY_RATIO = env.float("COINPILOT_HIGH_VOLATILITY_RATIO", default=1.5)
COINPILOT_BACKTEST_SLIPPAGE_BPS = env.str("COINPILOT_BACKTEST_SLIPPAGE_BPS", default="5")
# Quick backtest gate: refuse a symbol's entries for the KST day when its backtest over
# the last N days misses the thresholds in trading/backtest_gate.py. Off by default.
COINPILOT_BACKTEST_GATE = env.bool("COINPILOT_BACKTEST_GATE", default=False)
COINPILOT_BACKTEST_GATE_DAYS = env.int("COINPILOT_BACKTEST_GATE_DAYS", default=30)

# --- AI (off without a key; never a fake verdict) ---------------------------------------------
ANTHROPIC_API_KEY = env.str("ANTHROPIC_API_KEY", default="")
ANTHROPIC_BASE_URL = env.str("ANTHROPIC_BASE_URL", default="") or None
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="") or None
LLM_MODE = env.str("LLM_MODE", default="dev")
LLM_MODEL_DEV = env.str("LLM_MODEL_DEV", default="claude-haiku-4-5")
LLM_MODEL_PROD = env.str("LLM_MODEL_PROD", default="claude-sonnet-4-6")  # 4-5 retires 2026-11-30
AI_CYCLE_BUDGET_SECONDS = env.float("AI_CYCLE_BUDGET_SECONDS", default=12.0)  # + one 40 s run < 55 s
# The bot cycle waits at most this long (counted in the AI budget above) for the collector to
# store the bar that just closed; a symbol whose bar is still missing gets no decision this minute.
BOT_CYCLE_BAR_WAIT_SECONDS = env.float("BOT_CYCLE_BAR_WAIT_SECONDS", default=10.0)
OPENAI_REPORT_MODEL = env.str("OPENAI_REPORT_MODEL", default="gpt-4o-mini")
# The whole Analyst -> Guardian run is bounded; past this the buy is vetoed ("timeout").
AI_TIMEOUT_SECONDS = env.float("AI_TIMEOUT_SECONDS", default=40.0)
AI_SDK_MAX_RETRIES = env.int("AI_SDK_MAX_RETRIES", default=0)  # our guardrails decide, not the SDK
AI_MIN_CONFIDENCE = env.int("AI_MIN_CONFIDENCE", default=60)  # Analyst CONFIRM below this -> REJECT
AI_HOURLY_CAP = env.int("AI_HOURLY_CAP", default=30)  # agent runs per UTC hour
AI_DAILY_CAP = env.int("AI_DAILY_CAP", default=200)  # agent runs per UTC day
AI_COOLDOWN_MINUTES = env.list("AI_COOLDOWN_MINUTES", cast=int, default=[5, 10, 15])  # by reject count
AI_REJECT_COUNT_TTL_MINUTES = env.int("AI_REJECT_COUNT_TTL_MINUTES", default=60)
AI_ERROR_STREAK_LIMIT = env.int("AI_ERROR_STREAK_LIMIT", default=3)
AI_BLOCK_MINUTES = env.int("AI_BLOCK_MINUTES", default=60)  # global block after credit/streak/budget
AI_DAILY_BUDGET_USD = env.str("AI_DAILY_BUDGET_USD", default="5")
AI_PRICE_INPUT_PER_MTOK_USD = env.str("AI_PRICE_INPUT_PER_MTOK_USD", default="1")  # Haiku 4.5 list price
AI_PRICE_OUTPUT_PER_MTOK_USD = env.str("AI_PRICE_OUTPUT_PER_MTOK_USD", default="5")
AI_PREFILTER_MAX_DROP_PCT_6H = env.float("AI_PREFILTER_MAX_DROP_PCT_6H", default=5.0)  # BEAR fallback
AI_PREFILTER_THIN_VOLUME_RATIO = env.float("AI_PREFILTER_THIN_VOLUME_RATIO", default=0.3)
OPENAI_TIMEOUT_SECONDS = env.float("OPENAI_TIMEOUT_SECONDS", default=20.0)
# "Ask CoinPilot" (coinpilot_site/ask): per question at most this many tool calls, this long (< gunicorn's
# 60 s worker timeout), this many output tokens per model turn, this many rows per tool result.
ASK_MAX_TOOL_CALLS = env.int("ASK_MAX_TOOL_CALLS", default=6)
ASK_TIME_LIMIT_SECONDS = env.float("ASK_TIME_LIMIT_SECONDS", default=45.0)
ASK_MAX_TOKENS = env.int("ASK_MAX_TOKENS", default=1500)
ASK_TOOL_ROW_LIMIT = env.int("ASK_TOOL_ROW_LIMIT", default=50)
# AgentDecision rows must survive a rollback of the caller's transaction: on PostgreSQL they are
# written on this second connection to the same database (SQLite has one writer at a time).
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    DATABASES["agents_log"] = dict(DATABASES["default"])

# --- Analytics -------------------------------------------------------------------------
ANALYTICS_WEEKLY_DAYS = env.int("ANALYTICS_WEEKLY_DAYS", default=7)  # days the weekly exit report covers
ANALYTICS_MIN_SAMPLE = env.int("ANALYTICS_MIN_SAMPLE", default=10)  # fewer SELLs: suggestions withheld
# a `system` alert when a day's fills are on average further than this from the backtest's (bps)
FILL_DRIFT_ALERT_BPS = env.str("FILL_DRIFT_ALERT_BPS", default="20")

# --- Strategy lab (Optuna studies, trials as jobs on the `lab` queue) ----------------------------
LAB_MAX_TRIALS = env.int("LAB_MAX_TRIALS", default=2000)  # trials one study may ask for
LAB_PARALLEL_JOBS = env.int("LAB_PARALLEL_JOBS", default=8)  # a study's jobs in flight: its workers at most
# A running trial renews its heartbeat this often; one silent for the stale time (its worker died)
# is marked failed and its parameters are tried again, so the study still reaches its trials.
LAB_HEARTBEAT_SECONDS = env.int("LAB_HEARTBEAT_SECONDS", default=5)
LAB_STALE_TRIAL_SECONDS = env.int("LAB_STALE_TRIAL_SECONDS", default=30)

# --- Notifications ----------------------------------------------------------------------------
DISCORD_WEBHOOK_URL = env.str("DISCORD_WEBHOOK_URL", default="")
# Optional webhook per event type (DISCORD_WEBHOOK_URL_RISK, ..._AI_REJECT, ...); empty = the default.
DISCORD_WEBHOOK_URLS = {
    event: env.str(f"DISCORD_WEBHOOK_URL_{event.upper().replace('-', '_')}", default="")
    for event in ("trade", "ai-decision", "ai-reject", "risk", "daily-report", "weekly-exit-report", "system")
}
DISCORD_TIMEOUT_SECONDS = env.float("DISCORD_TIMEOUT_SECONDS", default=5.0)  # per HTTP attempt
DISCORD_MIN_INTERVAL_SECONDS = env.float("DISCORD_MIN_INTERVAL_SECONDS", default=2.0)  # pacing per webhook
DISCORD_RETRY_BASE_SECONDS = env.float("DISCORD_RETRY_BASE_SECONDS", default=1.0)  # backoff 1, 2, 4 s
DISCORD_MAX_RETRIES = env.int("DISCORD_MAX_RETRIES", default=3)
# One notifications job works at most this long, so a worker shared with the bot queue is freed.
DISCORD_SLICE_SECONDS = env.float("DISCORD_SLICE_SECONDS", default=10.0)
NOTIFY_RISK_COOLDOWN_SECONDS = env.int("NOTIFY_RISK_COOLDOWN_SECONDS", default=900)  # per kind+symbol

# --- Telegram (remote/: the remote-control bot, `manage.py run_telegram`) ---------------------
TELEGRAM_API_BASE_URL = env.str("TELEGRAM_API_BASE_URL", default="https://api.telegram.org/bot")
TELEGRAM_BOT_TOKEN = env.str("TELEGRAM_BOT_TOKEN", default="")  # from @BotFather; never logged
# Who may use the bot: "chat id:Django username" pairs, e.g. "12345:alice,67890:bob".
TELEGRAM_ALLOWED_CHATS = env.str("TELEGRAM_ALLOWED_CHATS", default="")
TELEGRAM_CONFIRM_SECONDS = env.int("TELEGRAM_CONFIRM_SECONDS", default=60)  # a Confirm button's life
TELEGRAM_POLL_SECONDS = env.int("TELEGRAM_POLL_SECONDS", default=25)  # long poll: getUpdates timeout
# Alerts to Telegram too (core/notifications/): chat ids, comma-separated; empty = Telegram alerts off.
TELEGRAM_ALERT_CHAT_IDS = parse_alert_chats(env.str("TELEGRAM_ALERT_CHAT_IDS", default=""))
# Which event types go there ("trade,risk,..."); empty = all of them.
TELEGRAM_ALERT_EVENTS = parse_alert_events(env.str("TELEGRAM_ALERT_EVENTS", default=""))

# --- Time, language, static -------------------------------------------------------------------
# Korean and English (core/i18n.py says how a page picks one); translations in locale/, compiled by
# dev.py, the Dockerfile and the test run (compilemessages).
LANGUAGES = i18n.LANGUAGES
LANGUAGE_CODE = i18n.parse_language(env.str("COINPILOT_LANGUAGE", default="en"), "COINPILOT_LANGUAGE")
# Alerts (Discord, Telegram) and the daily/weekly reports go to a channel, not a person: one language.
ALERT_LANGUAGE = i18n.parse_language(
    env.str("COINPILOT_ALERT_LANGUAGE", default=LANGUAGE_CODE), "COINPILOT_ALERT_LANGUAGE"
)
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SECURE = not DEBUG
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "Asia/Seoul"  # shown to people; everything is stored in UTC
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# plotly.js is served from the plotly package's own copy: no CDN (the machine may be offline).
STATICFILES_DIRS = [BASE_DIR / "static", ("plotly", Path(plotly.__file__).parent / "package_data")]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Security: strict unless DEBUG (a reverse proxy terminates TLS in production) -------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]  # probes and scrapers speak plain HTTP
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SESSION_ENGINE = "core.sessions"  # Django's database sessions, read with a fixed statement
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): scripts only from our own static files (plotly included),
# no inline script but django-rq's one, allowed by its hash. Styles may be inline: plotly.js
# writes <style> elements and style attributes.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", *inline_script_hashes("django_rq", "templates/django_rq")],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Error reports (the DEBUG page, error mails) mask every secret setting and its value wherever it
# appears (coinpilot_site/error_reports.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "coinpilot_site.error_reports.SecretsFilter"
DEFAULT_EXCEPTION_REPORTER = "coinpilot_site.error_reports.SecretsReporter"

# --- Errors and logs (README "Observability") -------------------------------------------------
# Error tracking is opt-in: nothing is initialised or sent without SENTRY_DSN (core/errors.py).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="development" if DEBUG else "production")
COINPILOT_RELEASE = env.str("COINPILOT_RELEASE", default="") or default_release(BASE_DIR)
# text (the default) or json: one JSON object per line with the request id, job and symbol.
LOG_FORMAT = log_format(env.str("LOG_FORMAT", default="text"))
# Error reports and log lines replace every value this function lists with [Filtered].
COINPILOT_SCRUBBED_VALUES = "coinpilot_site.error_reports.secret_values"
logging.captureWarnings(LOG_FORMAT == "json")  # a Python warning becomes a log line in that format

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": formatters(LOG_FORMAT, scrub_values_of=COINPILOT_SCRUBBED_VALUES),
    # The filter puts the request id, job and symbol (core/logging_context.py) on every record.
    "filters": {"context": {"()": "core.logging_context.ContextFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "rq.worker": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # a line per failed login at WARNING is enough
        # One INFO line per HTTP request would drown the log (httpx: Upbit and Discord;
        # httpx2: the LLM SDKs).
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
    },
}

# Every numeric setting above against its bounds (env_bounds.py): a typo stops the start here,
# naming the variable, instead of failing later inside a bot cycle.
check_numbers(globals())
init_error_tracking(
    dsn=SENTRY_DSN,
    environment=SENTRY_ENVIRONMENT,
    release=COINPILOT_RELEASE,
    scrub_values_of=COINPILOT_SCRUBBED_VALUES,
)
