"""All settings, read from the environment in this one module.

Two ways to run, one code path (DESIGN.md §1):
- embedded default: nothing set -> SQLite (WAL) under var/, in-memory channel layer, inline runs;
- production: DATABASE_URL=postgres://… and REDIS_URL=redis://… -> PostgreSQL, channels-redis, Celery.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("AGENTLOOM_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", default=False)

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "builder.core",
    "builder.accounts",
    "builder.bots",
    "builder.llm",
    "builder.conversations",
    "builder.knowledge",
    "builder.pluginhost",
    "builder.memory",
    "builder.credentials",
]

# Django's own middleware with their non-blocking hooks run on the event loop (builder/core/middleware.py).
MIDDLEWARE = [
    "builder.core.middleware.InlineSecurityMiddleware",
    "builder.core.static_files.AsyncStaticFilesMiddleware",
    "builder.core.middleware.InlineSessionMiddleware",
    "builder.core.middleware.InlineLocaleMiddleware",
    "builder.core.middleware.QueryTextMiddleware",
    "builder.core.middleware.InlineCommonMiddleware",
    "builder.core.middleware.InlineCsrfViewMiddleware",
    "builder.core.middleware.InlineAuthenticationMiddleware",
    "builder.core.middleware.InlineMessageMiddleware",
    "builder.core.middleware.InlineXFrameOptionsMiddleware",
]

ROOT_URLCONF = "builder.config.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "builder.config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        options = DATABASES["default"].setdefault("OPTIONS", {})
        # A database that drops packets must fail fast, not hang requests and health checks.
        options.setdefault("connect_timeout", 3)
        # ASGI runs sync code in many threads; persistent per-thread connections would exhaust
        # max_connections under load. A pool per process caps them (Django's native psycopg pool).
        options["pool"] = {
            "min_size": 1,
            "max_size": int(os.environ.get("AGENTLOOM_DB_POOL_SIZE", 10)),
            # Waiting longer for a connection than a client waits for an answer helps no one.
            "timeout": int(os.environ.get("AGENTLOOM_DB_POOL_TIMEOUT", 10)),
        }
else:
    DATABASES = {
        "default": {
            # Django's, creating the database file private (0600) before SQLite does (WAL and SHM follow).
            "ENGINE": "builder.core.sqlite_backend",
            "NAME": os.environ.get("AGENTLOOM_SQLITE_PATH", str(VAR_DIR / "agentloom.sqlite3")),
            "OPTIONS": {
                # WAL lets the websocket readers and the writer work at once; IMMEDIATE avoids
                # "database is locked" upgrades from read to write transactions.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
                "transaction_mode": "IMMEDIATE",
            },
            # Opening a SQLite connection runs the PRAGMAs above: keep connections between requests.
            "CONN_MAX_AGE": 600,
            "CONN_HEALTH_CHECKS": True,
            # Tests use a file too: Django's default in-memory test database is shared-cache SQLite,
            # where a background thread (document indexing) and a reader get "table is locked"
            # instead of waiting, which the app's WAL file never does.
            "TEST": {"NAME": str(VAR_DIR / "test.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
EMBEDDED = not DATABASE_URL

# The embedded default generates a per-checkout key on first start so a fresh clone runs without
# configuration yet never ships a shared, public key. Production must set it: several web workers
# on several hosts have to agree on it.
if EMBEDDED:
    from builder.core.private_files import private_directory

    # var/ holds the database, the knowledge index, uploads and the generated keys: its owner's only.
    private_directory(VAR_DIR)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not EMBEDDED:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DATABASE_URL is set.")
    from builder.core.secret_key import load_or_create_secret_key

    SECRET_KEY = load_or_create_secret_key(VAR_DIR / "secret_key")

# --- realtime and background work -------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py's 5 s socket timeout races channels-redis's 5 s blocking pop: give reads room.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                # A chat streams hundreds of token events; a slow client must not lose any
                # (group_send drops silently past capacity).
                "capacity": 5000,
                "expiry": 120,
            },
        }
    }
    CACHES: dict[str, dict[str, object]] = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    # In-process groups (builder/realtime/local_layer.py: channels' InMemoryChannelLayer is O(n) per send).
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "builder.realtime.local_layer.LocalChannelLayer", "CONFIG": {"capacity": 5000}}
    }
    # Room for the sign-in failure counts (builder/accounts/login_throttle.py): past MAX_ENTRIES, locmem
    # drops a third of its keys at random, lock-outs included.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 100_000}}
    }

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", REDIS_URL or "cache+memory://")
# Without a broker, tasks run inline in the calling process (the embedded default).
CELERY_TASK_ALWAYS_EAGER = not (REDIS_URL or os.environ.get("CELERY_BROKER_URL"))
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "reap-stale-runs": {"task": "conversations.reap_stale_runs", "schedule": 30.0},
    "purge-stale-invitations": {"task": "accounts.purge_stale_invitations", "schedule": 3600.0},
    "fail-stale-ingestions": {"task": "knowledge.fail_stale_ingestions", "schedule": 300.0},
    "resume-stale-plugin-jobs": {"task": "pluginhost.resume_stale_jobs", "schedule": 60.0},
}

# --- auth -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"
# Anyone may create an account with POST /api/v1/auth/signup: on one's own machine (the embedded
# default), not on a server others can reach unless its operator says so.
ALLOW_SIGNUP = env_bool("AGENTLOOM_ALLOW_SIGNUP", default=EMBEDDED)
# Failed sign-ins (builder/accounts/login_throttle.py): this many per username, or per client address,
# within LOGIN_LOCKOUT_S lock that username (address) out for LOGIN_LOCKOUT_S, the right password
# included. 0 turns a limit off.
LOGIN_MAX_FAILURES_PER_USERNAME = int(os.environ.get("AGENTLOOM_LOGIN_MAX_FAILURES", 5))
LOGIN_MAX_FAILURES_PER_ADDRESS = int(os.environ.get("AGENTLOOM_LOGIN_MAX_FAILURES_PER_IP", 20))
LOGIN_LOCKOUT_S = int(os.environ.get("AGENTLOOM_LOGIN_LOCKOUT_S", 15 * 60))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# --- i18n -------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "builder" / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# --- static and media -------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"
# Uploaded documents and files tools made are the users' data: the server's user reads them, no one else.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "builder.accounts.authentication.ApiKeyAuthentication",
        # DRF's, also checking CSRF on the views anonymous callers may use (login, signup).
        "builder.accounts.csrf.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "builder.core.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": [
        # django-filter's, strict about booleans (builder/core/filters.py).
        "builder.core.filters.FilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    # drf-spectacular's, plus every operation's error responses.
    "DEFAULT_SCHEMA_CLASS": "builder.core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "builder.core.exception_handler.api_exception_handler",
    "DEFAULT_PARSER_CLASSES": ["builder.core.json_input.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Agentloom API",
    "DESCRIPTION": "Build, version, share and publish AI bots.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # A PATCH body is its view's *UpdateIn serializer, whose required fields are required: no
    # "Patched…" copy that makes every field optional when the server would refuse the gap.
    "COMPONENT_SPLIT_PATCH": False,
    "ENUM_NAME_OVERRIDES": {
        "HealthStatusEnum": "builder.core.health.OVERALL_STATUSES",
        "HealthCheckStatusEnum": "builder.core.health.CHECK_STATUSES",
        "WorkerModeEnum": "builder.core.health.WORKER_MODES",
        "RunModeEnum": "builder.core.health.RUN_MODES",
        "WorkspaceRoleEnum": "builder.accounts.roles.Role",
        "BotRoleEnum": "builder.accounts.roles.BotRole",
        "ApiKeyRoleEnum": "builder.accounts.roles.API_KEY_ROLES",
        "FactKindEnum": "builder.memory.models.FACT_KINDS",
        "CredentialKindEnum": "builder.credentials.models.CredentialKind",
        # Model provider kinds are no enum: plugins add kinds (GET /api/v1/model-providers/kinds).
    },
}

# --- limits -----------------------------------------------------------------------------------
# Bot import: files above this size are refused before parsing (hostile uploads, YAML bombs).
BOT_IMPORT_MAX_BYTES = int(os.environ.get("AGENTLOOM_BOT_IMPORT_MAX_BYTES", 2 * 1024 * 1024))
DATA_UPLOAD_MAX_MEMORY_SIZE = max(BOT_IMPORT_MAX_BYTES + 64 * 1024, 2_621_440)
INVITATION_TTL_DAYS = 7
# Outbound HTTP from nodes and to model providers goes through the SSRF policy (builder/core/ssrf.py);
# these hosts/CIDRs may be private. The embedded default allows loopback, for a local Ollama or vLLM
# on one's own machine; production allows nothing private unless told.
AGENTLOOM_HTTP_ALLOWLIST = env_list("AGENTLOOM_HTTP_ALLOWLIST", "127.0.0.0/8,::1,localhost" if EMBEDDED else "")
# MCP servers over stdio (plugins/mcp): a workspace admin's command runs as a subprocess of the
# server/worker, i.e. code execution on it. On by default only in the embedded default (one person's
# own machine); off in production, where workspace admins must not get a shell on the workers.
AGENTLOOM_MCP_ALLOW_STDIO = env_bool("AGENTLOOM_MCP_ALLOW_STDIO", default=EMBEDDED)
# A running run whose heartbeat is older than this lost its worker and is marked failed.
RUN_STALE_AFTER_S = int(os.environ.get("AGENTLOOM_RUN_STALE_AFTER_S", 30))
# What one run may spend (builder/engine/runtime/limits.py); past any of them it fails with
# step_limit, time_limit or cpu_limit. 0 turns a limit off. Steps: node executions (each attempt,
# each round of a loop or iteration body). Wall time: long enough for a video tool's job. CPU: time
# the run itself computes on the server (a 2,000-node graph takes a few seconds), not its model calls.
RUN_MAX_STEPS = int(os.environ.get("AGENTLOOM_RUN_MAX_STEPS", 10_000))
RUN_MAX_SECONDS = float(os.environ.get("AGENTLOOM_RUN_MAX_SECONDS", 3600))
RUN_MAX_CPU_SECONDS = float(os.environ.get("AGENTLOOM_RUN_MAX_CPU_SECONDS", 30))
# Knowledge: uploads above this size are refused before they are read (200 MB must never parse).
KNOWLEDGE_MAX_UPLOAD_BYTES = int(os.environ.get("AGENTLOOM_KNOWLEDGE_MAX_UPLOAD_BYTES", 50 * 1024 * 1024))
# Where the search index lives: a SQLite file (FTS5 + sqlite-vec) by default, or a PostgreSQL with
# pgvector (postgres://…). The application database need not have pgvector.
KNOWLEDGE_INDEX_URL = os.environ.get("AGENTLOOM_KNOWLEDGE_INDEX_URL", "")
KNOWLEDGE_INDEX_PATH = VAR_DIR / "knowledge-index.sqlite3"
# Chinese terms for BM25: "jieba" (words) or "bigram" (character pairs); fixed per index.
KNOWLEDGE_ANALYZER = os.environ.get("AGENTLOOM_KNOWLEDGE_ANALYZER", "jieba")
# A document still "parsing/chunking/embedding" after this long lost its worker: it is marked failed.
KNOWLEDGE_STALE_AFTER_S = int(os.environ.get("AGENTLOOM_KNOWLEDGE_STALE_AFTER_S", 600))
# What reading one document may cost. Each file is parsed in a process of its own, capped by the
# kernel at the memory below and at the time budget in CPU (builder/knowledge/loading/isolation.py);
# past any budget the document fails with the reason. Text in characters; elements are XML/HTML
# tags (a 1,000-page docx holds ~1 million); keep the timeout well under KNOWLEDGE_STALE_AFTER_S.
KNOWLEDGE_PARSE_MAX_TEXT_CHARS = int(os.environ.get("AGENTLOOM_KNOWLEDGE_PARSE_MAX_TEXT_CHARS", 20_000_000))
KNOWLEDGE_PARSE_MAX_ELEMENTS = int(os.environ.get("AGENTLOOM_KNOWLEDGE_PARSE_MAX_ELEMENTS", 2_000_000))
KNOWLEDGE_PARSE_TIMEOUT_S = float(os.environ.get("AGENTLOOM_KNOWLEDGE_PARSE_TIMEOUT_S", 120))
KNOWLEDGE_PARSE_MEMORY_MB = int(os.environ.get("AGENTLOOM_KNOWLEDGE_PARSE_MEMORY_MB", 1024))
# Embedded default: documents indexed at once, so a slow one never holds up the next (production:
# the Celery workers' concurrency). Parses run in their own processes; the threads mostly wait.
KNOWLEDGE_INGEST_WORKERS = int(os.environ.get("AGENTLOOM_KNOWLEDGE_INGEST_WORKERS", 2))
# Long-running plugin tools (builder/pluginhost/jobs.py): the largest result file the host keeps
# (a rendered video), the Celery queue of their polls (its own workers, the Procfile's ``jobs``: a
# run waiting for its video holds a worker slot, so polls sharing the runs' queue could wait behind
# those very runs), and how long past its due time a poll may be before the job is picked up again.
PLUGIN_JOB_MAX_FILE_BYTES = int(os.environ.get("AGENTLOOM_PLUGIN_JOB_MAX_FILE_BYTES", 500 * 1024 * 1024))
PLUGIN_JOBS_QUEUE = os.environ.get("AGENTLOOM_PLUGIN_JOBS_QUEUE", "plugin_jobs")
PLUGIN_JOB_STALE_AFTER_S = int(os.environ.get("AGENTLOOM_PLUGIN_JOB_STALE_AFTER_S", 120))
# Serve the result files of plugin jobs under MEDIA_URL from this process (the default file storage
# on local disk); off when MEDIA_URL points at another server (a bucket, a CDN).
SERVE_PLUGIN_JOB_FILES = env_bool("AGENTLOOM_SERVE_PLUGIN_JOB_FILES", default=MEDIA_URL.startswith("/"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("AGENTLOOM_LOG_LEVEL", "INFO")},
}
