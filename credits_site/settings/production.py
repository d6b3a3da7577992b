"""Production: every secret and address comes from the environment, and it refuses to start without them."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F401,F403
from .base import STORAGES, env, exports_storage_from_env, logging_settings, mailer_from_env

DEBUG = False


def _required(name):
    value = env(name, default="")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set in the environment for production.")
    return value


# What Django's deploy check calls a weak key (security.W009), refused here at start rather than
# warned about later: short, repetitive, or Django's generated placeholder.
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_DISTINCT = 5


def _secret_key():
    key = _required("SECRET_KEY")
    if (
        len(key) < SECRET_KEY_MIN_LENGTH
        or len(set(key)) < SECRET_KEY_MIN_DISTINCT
        or key.startswith("django-insecure-")
    ):
        raise ImproperlyConfigured(
            f"SECRET_KEY is too weak for production: use at least {SECRET_KEY_MIN_LENGTH} random characters "
            "(python -c 'import secrets; print(secrets.token_urlsafe(64))')."
        )
    return key


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = [h.strip() for h in _required("ALLOWED_HOSTS").split(",") if h.strip()]
DATABASES = {"default": env.db_url_config(_required("DATABASE_URL"))}
# The filesystem broker is for a single demo machine; production names its broker (Redis).
CELERY_BROKER_URL = _required("CELERY_BROKER_URL")
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# A kept connection that the database ended (a restart, a failover, pg_terminate_backend) is checked
# before a request or task uses it again, and replaced: without the check, the first request of every
# web process after such an event answered 500 (bench/faults.py, docs/performance.md).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database host that does not answer at all (not refusing: gone) would hold a web thread for the
    # operating system's TCP timeout, twice for a page served again; a few seconds, then the 503 page.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5))
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HTTPS_ONLY=false serves plain HTTP on a machine's loopback (`make stack`): no redirect to https,
# cookies without the Secure flag (a client would not send them back over http), no HSTS.
HTTPS_ONLY = env.bool("HTTPS_ONLY", default=True)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS_ONLY)
# A load balancer probes the health endpoints over plain HTTP on the private network.
SECURE_REDIRECT_EXEMPT = [r"^health/"]
SESSION_COOKIE_SECURE = HTTPS_ONLY
CSRF_COOKIE_SECURE = HTTPS_ONLY
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS_ONLY else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True

# Built exports: the local disk (MEDIA_ROOT) unless EXPORTS_S3_BUCKET names a bucket (docs/scaling.md).
STORAGES = {**STORAGES, "default": exports_storage_from_env()}

# SMTP from the environment: EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS,
# EMAIL_USE_SSL, EMAIL_TIMEOUT (read by mailer_from_env into Django 6.1's MAILERS).
MAILERS = {"default": mailer_from_env("smtp")}

# One JSON object a line on stderr, with the request or task it belongs to (credits_site/logs.py).
LOGGING = logging_settings(json=env.bool("LOG_JSON", default=True), level=env("LOG_LEVEL", default="INFO"))
