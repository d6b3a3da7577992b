"""A newcomer's machine: debug on, SQLite and the filesystem broker unless the environment says otherwise."""

from .base import *  # noqa: F401,F403
from .base import env, mailer_from_env

DEBUG = env.bool("DEBUG", default=True)
# Only for local development; production refuses to start without its own.
SECRET_KEY = env("SECRET_KEY", default="local-development-only-not-secret")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
# Demo mail is written to var/mail (no SMTP server needed); EMAIL_BACKEND=smtp etc. to send for real.
MAILERS = {"default": mailer_from_env("file")}
