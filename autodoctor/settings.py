"""Settings, all read from the environment (see README "Configuration").

Defaults give a working local system: SQLite in ./var, console email, log SMS,
simulated payments. Production sets DATABASE_URL, SECRET_KEY, DEBUG=false, etc.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("AUTODOCTOR_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "django_tasks_db",
    "autodoctor.accounts",
    "autodoctor.availability",
    "autodoctor.booking",
    "autodoctor.payments",
    "autodoctor.notifications",
    "autodoctor.workshops",
    "autodoctor.analytics",
    "autodoctor.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "autodoctor.web.middleware.DomainErrorMiddleware",
    "autodoctor.web.middleware.ViewerTimeZoneMiddleware",
]

ROOT_URLCONF = "autodoctor.urls"
WSGI_APPLICATION = "autodoctor.wsgi.application"

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
                "autodoctor.web.context_processors.navigation",
                "autodoctor.web.context_processors.form_error",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
# SQLite by default (zero setup); PostgreSQL when DATABASE_URL says so.
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'autodoctor.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrency: WAL lets readers run beside the one writer; IMMEDIATE takes the
    # write lock at BEGIN so two booking transactions queue instead of failing with
    # "database is locked" on lock upgrade (ARCHITECTURE invariant 1).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_autodoctor.sqlite3")}
DATABASE_IS_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-ca"
TIME_ZONE = "UTC"
# Date-times carry their zone (autodoctor/formats/en/formats.py).
FORMAT_MODULE_PATH = ["autodoctor.formats"]
USE_I18N = False
USE_TZ = True
DEFAULT_DISPLAY_ZONE = os.environ.get("DEFAULT_DISPLAY_ZONE", "America/Toronto")

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"  # `collectstatic` fills it in production
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Background work ------------------------------------------------------
# django.tasks with the django-tasks-db backend; `manage.py db_worker` runs it.
TASKS = {
    "default": {
        "BACKEND": os.environ.get("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

# --- Email / SMS / payments ---------------------------------------------
# Django 6.1 MAILERS: console by default; SMTP (or an anymail backend) by setting.
EMAIL_BACKEND_PATH = os.environ.get(
    "EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
_mailer_options: dict[str, object] = {}
if EMAIL_BACKEND_PATH.endswith("smtp.EmailBackend"):
    _mailer_options = {
        "host": os.environ.get("EMAIL_HOST", "localhost"),
        "port": int(os.environ.get("EMAIL_PORT", "25")),
        "username": os.environ.get("EMAIL_HOST_USER", ""),
        "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
        "use_tls": env_bool("EMAIL_USE_TLS", False),
        # Bounded, so a hung send ends long before the outbox re-claims its row.
        "timeout": int(os.environ.get("EMAIL_TIMEOUT", "30")),
    }
MAILERS = {"default": {"BACKEND": EMAIL_BACKEND_PATH, "OPTIONS": _mailer_options}}
DEFAULT_FROM_EMAIL = os.environ.get(
    "DEFAULT_FROM_EMAIL", "The Auto Doctor <noreply@autodoctor.local>"
)

TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM_NUMBER = os.environ.get("TWILIO_FROM_NUMBER", "")
# SMS adapter (dotted path); empty = Twilio when TWILIO_* are set, else the log adapter.
SMS_BACKEND = os.environ.get("SMS_BACKEND", "")
SMS_TIMEOUT_SECONDS = int(os.environ.get("SMS_TIMEOUT_SECONDS", "30"))

STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
# The simulated provider signs its own webhook events with this secret.
_PUBLIC_SIMULATED_SECRET = "whsec_simulated_dev_secret"
SIMULATED_PAYMENTS_SECRET = os.environ.get("SIMULATED_PAYMENTS_SECRET", _PUBLIC_SIMULATED_SECRET)
# The simulated provider confirms bookings without money: off in production by default.
SIMULATED_PAYMENTS_ALLOWED = env_bool("SIMULATED_PAYMENTS_ALLOWED", DEBUG)
if (
    not DEBUG
    and SIMULATED_PAYMENTS_ALLOWED
    and SIMULATED_PAYMENTS_SECRET == _PUBLIC_SIMULATED_SECRET
):
    # Anyone who reads this file could sign "paid" events and book without paying.
    raise ImproperlyConfigured(
        "SIMULATED_PAYMENTS_ALLOWED is on with DEBUG off: set SIMULATED_PAYMENTS_SECRET "
        "to a private value (the default one is public)."
    )

# --- Booking rules ---------------------------------------------------------
HOLD_MINUTES = int(os.environ.get("HOLD_MINUTES", "15"))
RESCHEDULE_CUTOFF_MINUTES = int(os.environ.get("RESCHEDULE_CUTOFF_MINUTES", "120"))
TARGETED_OFFER_SECONDS = int(os.environ.get("TARGETED_OFFER_SECONDS", "120"))
# A "start now" session goes out to mechanics only once paid; unpaid, it is cancelled
# after this long (longer than a card checkout's 31-minute lifetime).
UNPAID_SESSION_MINUTES = int(os.environ.get("UNPAID_SESSION_MINUTES", "45"))
# A paid "start now" request nobody accepts within this long is closed and refunded.
START_NOW_WAIT_MINUTES = int(os.environ.get("START_NOW_WAIT_MINUTES", "30"))
# The session room's video/chat link, with {room} (an unguessable room name) and
# {session_id}; empty = the built-in placeholder room page (booking/room.py).
SESSION_ROOM_URL_TEMPLATE = os.environ.get("SESSION_ROOM_URL_TEMPLATE", "")

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "autodoctor": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    },
}
