"""Django settings for Dues.

Configuration comes from the environment so one build runs as a single-gym SQLite install
or as a PostgreSQL-backed hosted service:

- ``DUES_DATABASE_URL``: any dj-database-url URL; default is ``var/dues.sqlite3`` (WAL).
- ``DUES_DB_PREPARE``: 0 turns PostgreSQL prepared statements off (behind a
  transaction-mode pooler such as PgBouncer's).
- ``DUES_DB_CONN_MAX_AGE``: seconds a server thread keeps its database connection (60;
  0 opens one per request, which costs a PostgreSQL backend start each time).
- ``DUES_SECRET_KEY``, ``DUES_DEBUG``, ``DUES_ALLOWED_HOSTS``.
- ``DUES_GATEWAY``: dotted path of the default payment gateway (sandbox by default).
- ``DUES_PUBLIC_URL``: where members reach this server (links in messages).
- ``DUES_EMAIL_HOST``, ``DUES_EMAIL_PORT``, ``DUES_EMAIL_USER``, ``DUES_EMAIL_PASSWORD``,
  ``DUES_EMAIL_TLS``: the SMTP server for email; without a host, email is printed instead.
- ``DUES_EMAIL_FROM``: the sender of members' email.
- ``DUES_ENCRYPTION_KEYS``: comma-separated Fernet keys for secrets stored in the database
  (gateway keys); the first encrypts. Unset, a key derived from ``DUES_SECRET_KEY`` is used.
- ``DUES_STRIPE_SECRET_KEY``, ``DUES_STRIPE_WEBHOOK_SECRET``, ``DUES_STRIPE_PUBLISHABLE_KEY``:
  Stripe keys for organizations that have not stored their own; ``DUES_STRIPE_API_BASE``
  points the SDK at another server (a local test server).
- ``DUES_SMS_BACKEND``: dotted path of the SMS backend (console by default; the file
  backend writes one JSON line per SMS to ``DUES_SMS_FILE``).
- ``DUES_TWILIO_ACCOUNT_SID``, ``DUES_TWILIO_AUTH_TOKEN``, ``DUES_TWILIO_FROM`` (or
  ``DUES_TWILIO_MESSAGING_SERVICE_SID``), ``DUES_TWILIO_STATUS_CALLBACK``,
  ``DUES_TWILIO_TIMEOUT`` (seconds): the Twilio SMS backend; ``DUES_TWILIO_API_BASE``
  points it at another server (a local test server).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("DUES_VAR_DIR", Path.cwd() / "var"))

SECRET_KEY = os.environ.get("DUES_SECRET_KEY", "dues-development-key-change-me-in-production")
DEBUG = os.environ.get("DUES_DEBUG", "0") == "1"
ALLOWED_HOSTS = os.environ.get("DUES_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "dues.core",
    "dues.members",
    "dues.catalog",
    "dues.billing",
    "dues.payments",
    "dues.ledger",
    "dues.dunning",
    "dues.access",
    "dues.notify",
    "dues.crm",
    "dues.reports",
    "dues.webhooks",
    "dues.classes",
    "dues.portal",
    "dues.staff",
    "dues.api",
    "dues.ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dues.urls"
# Uploaded files (member photos); served through staff views, never publicly.
MEDIA_ROOT = VAR_DIR / "media"
WSGI_APPLICATION = "dues.wsgi.application"

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
            ],
        },
    },
]


def _database() -> dict[str, object]:
    url = os.environ.get("DUES_DATABASE_URL")
    if url:
        config = dict(dj_database_url.parse(url))
    else:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        config = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(VAR_DIR / "dues.sqlite3")}
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets the web process read while the billing run writes; IMMEDIATE takes the
        # write lock at BEGIN so two writers queue instead of failing mid-transaction.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ),
        }
        config["TEST"] = {"NAME": os.environ.get("DUES_TEST_SQLITE_NAME")}
    if config["ENGINE"] == "django.db.backends.postgresql":
        # Django turns psycopg's prepared statements off (for transaction-mode poolers);
        # the door's reads (access/reads.py) ask for them: planning cost more than running.
        # Behind such a pooler, set DUES_DB_PREPARE=0.
        prepare = os.environ.get("DUES_DB_PREPARE", "1") == "1"
        config["OPTIONS"] = {"prepare_threshold": 5 if prepare else None}
    # A door asks many times a second: each server thread reuses its connection. No health
    # check before each request (a round trip every time): a connection that broke fails
    # one request and is replaced.
    config["CONN_MAX_AGE"] = int(os.environ.get("DUES_DB_CONN_MAX_AGE", "60"))
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Staff sign-in (dues.staff): django-axes counts failed passwords per user name and address
# and refuses that pair for a while after too many; django-otp checks the TOTP codes.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "dues.staff.views.auth.locked_out"
AXES_ENABLE_ADMIN = False  # attempts are not for editing; the admin lists only Dues rows
OTP_TOTP_ISSUER = "Dues"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("sv", "Svenska"),
    ("fr", "Français"),
    ("zh-hans", "简体中文"),
    ("th", "ไทย"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["dues.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["dues.api.auth.HasOrganization"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "dues.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Dues API",
    "DESCRIPTION": "Gym memberships, billing and payments. Money is in the currency's minor unit.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {
        "TimelineKindEnum": [
            "message",
            "payment_attempt",
            "restriction",
            "dunning_case",
            "dispute",
        ],
        "PaymentMethodKindEnum": "dues.payments.models.PaymentMethod.Kind",
    },
}

DUES_GATEWAY = os.environ.get("DUES_GATEWAY", "dues.payments.gateways.sandbox.SandboxGateway")
DUES_ENCRYPTION_KEYS = [k for k in os.environ.get("DUES_ENCRYPTION_KEYS", "").split(",") if k]
DUES_STRIPE_SECRET_KEY = os.environ.get("DUES_STRIPE_SECRET_KEY", "")
DUES_STRIPE_WEBHOOK_SECRET = os.environ.get("DUES_STRIPE_WEBHOOK_SECRET", "")
DUES_STRIPE_PUBLISHABLE_KEY = os.environ.get("DUES_STRIPE_PUBLISHABLE_KEY", "")
DUES_STRIPE_API_BASE = os.environ.get("DUES_STRIPE_API_BASE", "")
# Seconds a Stripe-Signature timestamp may be old (Stripe's own default).
DUES_STRIPE_WEBHOOK_TOLERANCE = int(os.environ.get("DUES_STRIPE_WEBHOOK_TOLERANCE", "300"))
DUES_PUBLIC_URL = os.environ.get("DUES_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

EMAIL_HOST = os.environ.get("DUES_EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = int(os.environ.get("DUES_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("DUES_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("DUES_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("DUES_EMAIL_TLS", "0") == "1"
EMAIL_TIMEOUT = 30
DEFAULT_FROM_EMAIL = os.environ.get("DUES_EMAIL_FROM", "Dues <no-reply@localhost>")
DUES_SMS_BACKEND = os.environ.get("DUES_SMS_BACKEND", "dues.notify.sms.ConsoleSmsBackend")
DUES_SMS_FILE = Path(os.environ.get("DUES_SMS_FILE", VAR_DIR / "sms.jsonl"))
DUES_TWILIO_ACCOUNT_SID = os.environ.get("DUES_TWILIO_ACCOUNT_SID", "")
DUES_TWILIO_AUTH_TOKEN = os.environ.get("DUES_TWILIO_AUTH_TOKEN", "")
DUES_TWILIO_FROM = os.environ.get("DUES_TWILIO_FROM", "")
DUES_TWILIO_MESSAGING_SERVICE_SID = os.environ.get("DUES_TWILIO_MESSAGING_SERVICE_SID", "")
DUES_TWILIO_STATUS_CALLBACK = os.environ.get("DUES_TWILIO_STATUS_CALLBACK", "")
DUES_TWILIO_API_BASE = os.environ.get("DUES_TWILIO_API_BASE", "https://api.twilio.com")
DUES_TWILIO_TIMEOUT = float(os.environ.get("DUES_TWILIO_TIMEOUT", "10"))

DUES_BILLING_BATCH_SIZE = int(os.environ.get("DUES_BILLING_BATCH_SIZE", "500"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DUES_LOG_LEVEL", "WARNING")},
    # The SDK logs request bodies at debug level; keep them out of any log.
    "loggers": {"stripe": {"level": "WARNING"}},
}
