"""Settings shared by every environment. Values come from the environment (django-environ);
the defaults are the newcomer's: SQLite and Celery on kombu's filesystem transport, no servers."""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.csp import CSP

from credits_site.logs import logging_settings

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tables2",
    "django_filters",
    "axes",
    "billing",
    "usage",
    "notifications",
    # The site itself: its management commands (load_demo) and shared helpers, no models.
    "credits_site",
]

MIDDLEWARE = [
    # First: every request gets its id and its log line, redirects and refusals below included.
    "credits_site.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Near the top, so that every response gets the policy: pages, redirects, errors, lockouts.
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Under the log line and the security headers: a request whose database connection is lost partway
    # is served again or answered 503, and that answer is logged and carries the headers.
    "credits_site.middleware.DatabaseConnectionLossMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After the two above: it signs out an idle or too old session and leaves a message saying why.
    "credits_site.session_limits.SessionLimitsMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "billing.middleware.CurrentOrganizationMiddleware",
    # Last, as django-axes asks, so that it sees the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

# Messages stay on the server: a new API key is shown once through one, and a cookie is only signed.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "credits_site.urls"
WSGI_APPLICATION = "credits_site.wsgi.application"

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
                "billing.context_processors.admin_center",
            ],
        },
    },
]

DATABASES = {
    "default": env.db(
        "DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the Celery worker share the file: wait for the lock instead of failing,
    # and take the write lock at BEGIN so that two writers never deadlock on an upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ATOMIC_REQUESTS = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}


def exports_storage_from_env() -> dict:
    """The default storage (built exports): the local disk under MEDIA_ROOT, or, when EXPORTS_S3_BUCKET
    is set, that bucket of S3 or an S3-compatible store through django-storages (docs/scaling.md).
    Credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the machine's role, read by boto3."""
    bucket = env("EXPORTS_S3_BUCKET", default="")
    if not bucket:
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "location": env("EXPORTS_S3_PREFIX", default="exports"),  # a prefix inside the bucket
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default=None),  # MinIO, Ceph, R2 ...; unset for AWS
            "region_name": env("AWS_S3_REGION_NAME", default=None),
            "addressing_style": env("AWS_S3_ADDRESSING_STYLE", default=None),  # "path" for most self-hosted stores
            "default_acl": "private",  # downloads go through the site's own permission check
            "file_overwrite": False,
            "querystring_auth": True,
        },
    }

# Sign-in throttling (django-axes, with credits_site/sign_in.py): an account at one address is locked
# after AXES_FAILURE_LIMIT failures, and an address after SIGN_IN_ADDRESS_FAILURE_LIMIT failures to any
# accounts (password spraying), each for AXES_COOLOFF_MINUTES.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
SIGN_IN_ADDRESS_FAILURE_LIMIT = env.int("SIGN_IN_ADDRESS_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "credits_site.sign_in.AccountAndAddressHandler"
AXES_LOCKOUT_CALLABLE = "credits_site.sign_in.lockout_response"
AXES_CLIENT_IP_CALLABLE = "credits_site.sign_in.client_address"
# The client's address: by default the connection's (REMOTE_ADDR), and a client's X-Forwarded-For is
# ignored. Behind N proxies that each append to the header, TRUSTED_PROXY_COUNT=N.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
CLIENT_ADDRESS_HEADER = env("CLIENT_ADDRESS_HEADER", default="X-Forwarded-For")

# Sessions of this billing console (credits_site/session_limits.py): signed out after
# SESSION_IDLE_TIMEOUT seconds without a request, and SESSION_COOKIE_AGE seconds after signing in.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 60 * 60)
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=30 * 60)

# Content Security Policy (Django's ContentSecurityPolicyMiddleware), on every response: scripts,
# styles, images, fonts and requests from this site's own files only. Nothing inline is allowed
# (no 'unsafe-inline', no nonce): templates keep their scripts and styles in static/.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

DJANGO_TABLES2_TEMPLATE = "includes/table.html"
DEFAULT_EXCEPTION_REPORTER_FILTER = "billing.debug.CardSafeExceptionReporterFilter"

# Email through Django 6.1's MAILERS (EMAIL_BACKEND and the EMAIL_HOST... settings are deprecated and
# may not sit beside it). The environment variables keep their familiar names; `mailer_from_env` turns
# them into the "default" mailer: EMAIL_BACKEND = smtp | file | console | locmem | a dotted path.
MAIL_BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
}


def mailer_from_env(default_backend: str) -> dict:
    backend = env("EMAIL_BACKEND", default=default_backend)
    backend = MAIL_BACKENDS.get(backend, backend)
    options = {}
    if backend == MAIL_BACKENDS["smtp"]:
        options = {
            "host": env("EMAIL_HOST", default="localhost"),
            "port": env.int("EMAIL_PORT", default=587),
            "username": env("EMAIL_HOST_USER", default=""),
            "password": env("EMAIL_HOST_PASSWORD", default=""),
            "use_tls": env.bool("EMAIL_USE_TLS", default=True),
            "use_ssl": env.bool("EMAIL_USE_SSL", default=False),
            "timeout": env.int("EMAIL_TIMEOUT", default=30),
        }
    elif backend == MAIL_BACKENDS["file"]:
        # The demo's mail, one file per batch, readable without any SMTP server.
        options = {"file_path": str(env.path("EMAIL_FILE_PATH", default=VAR_DIR / "mail"))}
    return {"BACKEND": backend, "OPTIONS": options}


MAILERS = {"default": mailer_from_env("console")}
# A delivery claimed by a worker that died is taken back after this long (notifications/conf.py).
NOTIFICATIONS_STALE_CLAIM_SECONDS = env.int("NOTIFICATIONS_STALE_CLAIM_SECONDS", default=600)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Communications Credits <no-reply@credits.example>")
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
SUPPORT_EMAILS = env.list("SUPPORT_EMAILS", default=["support@credits.example"])

# Payments: the class named here is the gateway. The sandbox behaves like Stripe's test cards.
PAYMENT_GATEWAY = env("PAYMENT_GATEWAY", default="billing.gateways.sandbox.SandboxGateway")

# Celery. The default broker needs no server: kombu's filesystem transport in var/celery.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery" / "queue"
    # The transport needs the folder before the first message (load_demo may enqueue before a worker starts).
    _queue_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        # The exchange table defaults to ./control, i.e. wherever the process was started.
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "retry-pending-fundings": {
        "task": "billing.tasks.retry_pending_fundings_task",
        "schedule": timedelta(seconds=60),
    },
    "sweep-auto-recharge": {
        "task": "billing.tasks.sweep_auto_recharge_task",
        "schedule": timedelta(seconds=env.int("AUTO_RECHARGE_SWEEP_SECONDS", default=60)),
    },
    # The single place where periodic work is declared; exactly one beat process runs it.
    "reconcile-ledgers": {
        "task": "billing.tasks.reconcile_ledgers_task",
        "schedule": crontab(minute=17),
    },
    # Daily, UTC: what is left of 12-month-old lots expires; warnings 30 and 7 days ahead.
    "expire-credits": {
        "task": "billing.tasks.expire_credits_task",
        "schedule": crontab(hour=0, minute=23),
    },
    "warn-expiring-cards": {
        "task": "billing.tasks.warn_expiring_cards_task",
        "schedule": crontab(hour=6, minute=41),
    },
    # Notification outbox: whatever is still pending (a lost task, a broker outage, a retry that is due).
    "send-pending-notifications": {
        "task": "notifications.tasks.send_pending_deliveries_task",
        "schedule": timedelta(seconds=env.int("NOTIFICATIONS_SWEEP_SECONDS", default=30)),
    },
    # A background export whose task was lost (a broker outage) or whose worker died is built anyway.
    "build-waiting-usage-exports": {
        "task": "usage.tasks.build_waiting_exports_task",
        "schedule": timedelta(seconds=60),
    },
    # Signed-in sessions last hours; the rows of ended ones are removed daily.
    "clear-expired-sessions": {
        "task": "credits_site.tasks.clear_expired_sessions_task",
        "schedule": crontab(hour=4, minute=7),
    },
    # Usage exports are kept 7 days under Downloads; then their files go.
    "delete-expired-usage-exports": {
        "task": "usage.tasks.delete_expired_exports_task",
        "schedule": crontab(hour=3, minute=11),
    },
    # Scheduled reports (weekly on Mondays, monthly on the 1st, UTC): hourly, so a missed run is caught
    # up within the hour; a ReportRun row per subscription and period makes a second run send nothing.
    "deliver-scheduled-reports": {
        "task": "usage.tasks.deliver_scheduled_reports_task",
        "schedule": crontab(minute=37),
    },
    # Call and SMS records older than the report's year and USAGE_RETENTION_MARGIN_DAYS leave, with the
    # per-day figures of their days, a batch per transaction (docs/usage.md, "Retention").
    "purge-expired-usage": {
        "task": "usage.tasks.purge_expired_usage_task",
        "schedule": crontab(hour=2, minute=29),
    },
}
# Usage report exports up to this many rows download at once; larger ones are built in the background.
USAGE_EXPORT_IMMEDIATE_ROWS = env.int("USAGE_EXPORT_IMMEDIATE_ROWS", default=5000)
# A background export whose build has not moved for this long lost its worker: beat's sweep builds it
# again. A live build writes its progress every 10,000 rows (seconds apart at most).
USAGE_EXPORT_STALE_SECONDS = env.int("USAGE_EXPORT_STALE_SECONDS", default=600)
# Retention: records are kept for the report's year plus this many days, then purged daily; each batch
# deletes this many rows in its own transaction (an import waits at most one batch on a row lock).
USAGE_RETENTION_MARGIN_DAYS = env.int("USAGE_RETENTION_MARGIN_DAYS", default=30)
USAGE_RETENTION_BATCH_ROWS = env.int("USAGE_RETENTION_BATCH_ROWS", default=5000)

# What a usage import reads of a hostile file (docs/usage.md, "Limits of an import"). A zip is checked
# against its own directory before anything is inflated, then the same limits hold while it is read,
# since a directory can lie. An export's CSV compresses 3 to 10 times; a zip bomb about 1,000 times.
USAGE_IMPORT_ZIP_MAX_MEMBERS = env.int("USAGE_IMPORT_ZIP_MAX_MEMBERS", default=1000)
USAGE_IMPORT_ZIP_MAX_MEMBER_BYTES = env.int("USAGE_IMPORT_ZIP_MAX_MEMBER_BYTES", default=1024**3)
USAGE_IMPORT_ZIP_MAX_TOTAL_BYTES = env.int("USAGE_IMPORT_ZIP_MAX_TOTAL_BYTES", default=4 * 1024**3)
USAGE_IMPORT_ZIP_MAX_RATIO = env.int("USAGE_IMPORT_ZIP_MAX_RATIO", default=100)
USAGE_IMPORT_ZIP_MAX_PARAMETERS_BYTES = env.int("USAGE_IMPORT_ZIP_MAX_PARAMETERS_BYTES", default=1024**2)
# A row of the export is under 4,000 characters; a longer one is refused before it is read whole.
USAGE_IMPORT_MAX_ROW_CHARS = env.int("USAGE_IMPORT_MAX_ROW_CHARS", default=64 * 1024)
# A rate card (CSV, docs/usage.md "Rate cards"): its size is checked before it is read, its rows are
# bounded by USAGE_IMPORT_MAX_ROW_CHARS. A card of every prefix of every country is a few thousand lines.
RATE_CARD_MAX_BYTES = env.int("RATE_CARD_MAX_BYTES", default=5 * 1024 * 1024)
RATE_CARD_MAX_LINES = env.int("RATE_CARD_MAX_LINES", default=50_000)

# Spike detection, run at the end of every call import (docs/spend-guard.md, "Detection"). An hour of a
# person's credit calls, or of the organization's calls to one country, is a burst when it is at least
# BURST_FACTOR times its baseline (the same hour over the last BASELINE_DAYS days, per day) and at least
# MIN_CALLS calls or MIN_SPEND in the account's currency. A country never called before alerts from
# NEW_COUNTRY_MIN_CALLS calls; an hour of the day without any call in the baseline from ODD_HOUR_MIN_CALLS.
# Nothing is judged until the organization has MIN_HISTORY_DAYS days of calls before the hour.
SPEND_DETECTION_ENABLED = env.bool("SPEND_DETECTION_ENABLED", default=True)
SPEND_DETECTION_BASELINE_DAYS = env.int("SPEND_DETECTION_BASELINE_DAYS", default=28)
SPEND_DETECTION_MIN_HISTORY_DAYS = env.int("SPEND_DETECTION_MIN_HISTORY_DAYS", default=7)
SPEND_DETECTION_BURST_FACTOR = env.float("SPEND_DETECTION_BURST_FACTOR", default=5.0)
SPEND_DETECTION_MIN_CALLS = env.int("SPEND_DETECTION_MIN_CALLS", default=20)
SPEND_DETECTION_MIN_SPEND = env.str("SPEND_DETECTION_MIN_SPEND", default="10.00")
SPEND_DETECTION_NEW_COUNTRY_MIN_CALLS = env.int("SPEND_DETECTION_NEW_COUNTRY_MIN_CALLS", default=3)
SPEND_DETECTION_ODD_HOUR_MIN_CALLS = env.int("SPEND_DETECTION_ODD_HOUR_MIN_CALLS", default=5)

# Health endpoints (credits_site/health.py): seconds a probe waits for the database or the broker.
HEALTH_CHECK_TIMEOUT = env.float("HEALTH_CHECK_TIMEOUT", default=2.0)

# Plain text for a terminal; production writes JSON lines (LOG_JSON=true here does too).
LOGGING = logging_settings(json=env.bool("LOG_JSON", default=False), level=env("LOG_LEVEL", default="INFO"))
