"""Settings, all read from the environment (see README "Configuration").

Defaults give a working local system: SQLite in ./var, console email, log SMS,
simulated payments. Production sets DATABASE_URL, SECRET_KEY, DEBUG=false, etc.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

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
    "ninja",  # serves the Swagger UI of /api/docs from its own static files, not a CDN
    "django_tasks_db",
    "axes",
    "autodoctor.accounts",
    "autodoctor.availability",
    "autodoctor.booking",
    "autodoctor.payments",
    "autodoctor.notifications",
    "autodoctor.workshops",
    "autodoctor.analytics",
    "autodoctor.directory",
    "autodoctor.integrations",
    "autodoctor.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "autodoctor.web.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "autodoctor.web.middleware.DomainErrorMiddleware",
    "autodoctor.web.middleware.ViewerTimeZoneMiddleware",
    "autodoctor.web.middleware.PresenceMiddleware",
    "autodoctor.web.middleware.RateLimitMiddleware",
    "autodoctor.api_middleware.ApiErrorShapeMiddleware",
    # Last: turns an axes lockout flagged during authenticate() into the login page's 429.
    "axes.middleware.AxesMiddleware",
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
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "autodoctor.web.context_processors.navigation",
                "autodoctor.web.context_processors.form_error",
                "autodoctor.web.context_processors.live_poll",
            ],
        },
    },
]

# How often a page that waits for someone else asks the server again (htmx polling, in
# seconds): the start-now waiting page, the session room, the mechanic's offers inbox and a
# receipt waiting for the card provider. The browser tests poll every second.
LIVE_POLL_SECONDS = {"waiting": 5, "room": 5, "offers": 10, "payment": 2}

# --- Database -------------------------------------------------------------
# SQLite by default (zero setup); PostgreSQL when DATABASE_URL says so.
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'autodoctor.sqlite3'}")
# DB_CONN_MAX_AGE > 0 keeps connections between requests (for gunicorn on PostgreSQL);
# health checks then replace a connection the server dropped (a PostgreSQL restart)
# before the request uses it, so the app recovers without being restarted.
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
        conn_health_checks=True,
    )
}
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
# PostgreSQL: parameters bound by the server and statements prepared once a connection
# has run them DB_PREPARE_THRESHOLD times (psycopg's automatic preparation), so a hold's
# or a slot list's statements are parsed and planned once per connection, not on every
# request: 43 % less PostgreSQL CPU per hold (docs/deploy.md). Django leaves both off by
# default for poolers that cannot keep prepared statements: behind pgbouncer in
# transaction mode set max_prepared_statements (pgbouncer >= 1.21), or
# DB_PREPARE_THRESHOLD=off (client-side binding, nothing prepared).
DB_PREPARE_THRESHOLD = os.environ.get("DB_PREPARE_THRESHOLD", "5").strip().lower()
if DATABASE_IS_POSTGRES and DB_PREPARE_THRESHOLD not in ("off", "none", ""):
    if not DB_PREPARE_THRESHOLD.isdigit():
        raise ImproperlyConfigured(
            f"DB_PREPARE_THRESHOLD must be a whole number of runs or 'off', not {DB_PREPARE_THRESHOLD!r}"
        )
    DATABASES["default"]["OPTIONS"] = {
        "server_side_binding": True,
        "prepare_threshold": int(DB_PREPARE_THRESHOLD),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# --- Accounts (README "Accounts and approvals") ------------------------------
# Login throttling: django-axes counts failures in the database (AccessAttempt), so the
# lockout holds across every web process. Locked by address OR by account: N failures
# for one email (from anywhere) or from one IP (for any email) lock that one out for the
# cool-off. The same answer whether or not the email has an account (no enumeration).
AUTHENTICATION_BACKENDS = [
    "autodoctor.accounts.auth.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_FORM_FIELD = "username"  # AuthenticationForm's field (it holds the email)
AXES_USERNAME_CALLABLE = "autodoctor.accounts.auth.login_key"
AXES_LOCKOUT_CALLABLE = "autodoctor.accounts.views.locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # PIPEDA: no log of every successful login's IP
# The client address: REMOTE_ADDR unless the deployment says how many proxies to trust.
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]
if os.environ.get("TRUSTED_PROXY_COUNT"):
    AXES_IPWARE_PROXY_COUNT = int(os.environ["TRUSTED_PROXY_COUNT"])
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
EMAIL_VERIFICATION_HOURS = int(os.environ.get("EMAIL_VERIFICATION_HOURS", "48"))
PASSWORD_RESET_TIMEOUT = int(os.environ.get("PASSWORD_RESET_MINUTES", "60")) * 60
INVITATION_DAYS = int(os.environ.get("INVITATION_DAYS", "7"))
MECHANIC_PHOTO_MAX_BYTES = int(os.environ.get("MECHANIC_PHOTO_MAX_MB", "5")) * 1024 * 1024
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
# Intake photos and video of the problem (booking/attachments.py): stored through the
# default storage (STORAGES["default"], e.g. S3-compatible), served only after a check.
INTAKE_PHOTO_MAX_MB = int(os.environ.get("INTAKE_PHOTO_MAX_MB", "10"))
INTAKE_VIDEO_MAX_MB = int(os.environ.get("INTAKE_VIDEO_MAX_MB", "50"))
INTAKE_ATTACHMENTS_MAX = int(os.environ.get("INTAKE_ATTACHMENTS_MAX", "5"))
INTAKE_PENDING_HOURS = int(os.environ.get("INTAKE_PENDING_HOURS", "24"))
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-ca"
# English (Canada) and Canadian French. A person's choice (User.language, set at sign-up, on
# the profile page or with the header's switch) wins; visitors get their browser's
# Accept-Language (LocaleMiddleware). Catalogues: each app's locale/fr_CA/LC_MESSAGES/django.po,
# compiled by `./dev` (docs/i18n.md).
LANGUAGES = [("en-ca", "English"), ("fr-ca", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "language"
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"
# Date-times carry their zone (autodoctor/formats/en/formats.py).
FORMAT_MODULE_PATH = ["autodoctor.formats"]
USE_I18N = True
USE_TZ = True
DEFAULT_DISPLAY_ZONE = os.environ.get("DEFAULT_DISPLAY_ZONE", "America/Toronto")

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"  # `collectstatic` fills it in production
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG
# Production (DEBUG off): `collectstatic` writes content-hashed names and gzip variants, and
# whitenoise serves those with a far-future, immutable Cache-Control (docs/deploy.md).
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Background work ------------------------------------------------------
# django.tasks with the django-tasks-db backend; `manage.py db_worker` runs it.
# TASKS_BACKEND=django_tasks_rq.RQBackend puts them on Redis (REDIS_URL) instead, run by
# `manage.py rqworker --job-class django_tasks_rq.Job` (docs/deploy.md: which to choose).
TASKS_BACKEND = os.environ.get("TASKS_BACKEND", "django_tasks_db.DatabaseBackend")
TASKS = {"default": {"BACKEND": TASKS_BACKEND, "QUEUES": ["default"]}}
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 300}}
if TASKS_BACKEND.startswith("django_tasks_rq."):
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]

# --- Email / SMS / payments ---------------------------------------------
# Django 6.1 MAILERS: console by default; SMTP (or an anymail backend) by setting.
# Console on a laptop (DEBUG); SMTP in production, so a deployment never silently prints
# its mail to a log (`check --deploy` would flag the console backend: mail.E001).
EMAIL_BACKEND_PATH = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
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

# Outgoing webhooks (autodoctor/integrations, docs/integrations.md). Endpoints that resolve
# to loopback/private/link-local addresses are refused (SSRF) unless this is on.
WEBHOOKS_ALLOW_PRIVATE = env_bool("WEBHOOKS_ALLOW_PRIVATE", DEBUG)
WEBHOOKS_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOKS_TIMEOUT_SECONDS", "5"))
# An endpoint is turned off (and its owner emailed) after this many failures in a row.
WEBHOOKS_DISABLE_AFTER = int(os.environ.get("WEBHOOKS_DISABLE_AFTER", "10"))

STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
# The simulated provider signs its own webhook events with this secret.
SIMULATED_PAYMENTS_PUBLIC_SECRET = "whsec_simulated_dev_secret"
SIMULATED_PAYMENTS_SECRET = os.environ.get(
    "SIMULATED_PAYMENTS_SECRET", SIMULATED_PAYMENTS_PUBLIC_SECRET
)
# The simulated provider confirms bookings without money: off in production by default.
SIMULATED_PAYMENTS_ALLOWED = env_bool("SIMULATED_PAYMENTS_ALLOWED", DEBUG)
if (
    not DEBUG
    and SIMULATED_PAYMENTS_ALLOWED
    and SIMULATED_PAYMENTS_SECRET == SIMULATED_PAYMENTS_PUBLIC_SECRET
):
    # Anyone who reads this file could sign "paid" events and book without paying.
    raise ImproperlyConfigured(
        "SIMULATED_PAYMENTS_ALLOWED is on with DEBUG off: set SIMULATED_PAYMENTS_SECRET "
        "to a private value (the default one is public)."
    )

# Canadian sales tax (payments/tax.py): the platform's province, used when a customer's
# postal code does not name one, and the registration numbers printed on receipts.
PLATFORM_PROVINCE = os.environ.get("PLATFORM_PROVINCE", "ON")
GST_HST_NUMBER = os.environ.get("GST_HST_NUMBER", "")
QST_NUMBER = os.environ.get("QST_NUMBER", "")
# Payout runs (payments/services/payout_runs.py): how often earnings are transferred.
PAYOUT_INTERVAL_DAYS = int(os.environ.get("PAYOUT_INTERVAL_DAYS", "7"))

# --- Booking rules ---------------------------------------------------------
# Rate limits (autodoctor/ratelimit.py), per user or, logged out, per client address;
# 0 turns one off. Reads: slot listings and earliest-slot searches. Writes: every
# POST/PUT/PATCH/DELETE of the API and the pages.
RATE_LIMITS = {
    scope: (per_minute, 60) if per_minute > 0 else None
    for scope, per_minute in (
        ("read", int(os.environ.get("RATE_LIMIT_READS_PER_MINUTE", "120"))),
        ("write", int(os.environ.get("RATE_LIMIT_WRITES_PER_MINUTE", "60"))),
    )
}
HOLD_MINUTES = int(os.environ.get("HOLD_MINUTES", "15"))
# Holds cost nothing: at most this many at once per customer, and per mechanic-day.
HOLDS_PER_CUSTOMER = int(os.environ.get("HOLDS_PER_CUSTOMER", "3"))
HOLDS_PER_CUSTOMER_MECHANIC_DAY = int(os.environ.get("HOLDS_PER_CUSTOMER_MECHANIC_DAY", "2"))
# Waitlist (issue 16): a freed time is held this long for the first waiting customer.
WAITLIST_CLAIM_MINUTES = int(os.environ.get("WAITLIST_CLAIM_MINUTES", "10"))
WAITLIST_ENTRIES_PER_CUSTOMER = int(os.environ.get("WAITLIST_ENTRIES_PER_CUSTOMER", "5"))
WAITLIST_MAX_DAYS = int(os.environ.get("WAITLIST_MAX_DAYS", "60"))
# Unpaid start-now requests a customer may keep open at once (one paid request at a time).
START_NOW_UNPAID_PER_CUSTOMER = int(os.environ.get("START_NOW_UNPAID_PER_CUSTOMER", "3"))
START_NOW_WAITING_PER_CUSTOMER = int(os.environ.get("START_NOW_WAITING_PER_CUSTOMER", "1"))
# plan §1.3 "active session": sessions one customer may have live/waiting (or booked at
# overlapping times) at once (booking.services.active_session_refusal).
ACTIVE_SESSIONS_PER_CUSTOMER = int(os.environ.get("ACTIVE_SESSIONS_PER_CUSTOMER", "1"))
RESCHEDULE_CUTOFF_MINUTES = int(os.environ.get("RESCHEDULE_CUTOFF_MINUTES", "120"))
TARGETED_OFFER_SECONDS = int(os.environ.get("TARGETED_OFFER_SECONDS", "120"))
# A "start now" session goes out to mechanics only once paid; unpaid, it is cancelled
# after this long (longer than a card checkout's 31-minute lifetime).
UNPAID_SESSION_MINUTES = int(os.environ.get("UNPAID_SESSION_MINUTES", "45"))
# A paid "start now" request nobody accepts within this long is closed and refunded.
START_NOW_WAIT_MINUTES = int(os.environ.get("START_NOW_WAIT_MINUTES", "30"))
# A booking request (instant booking off) the mechanic does not answer closes, refunded in
# full, at the earlier of this long after it was sent and the cut-off before its start.
BOOKING_REQUEST_RESPONSE_HOURS = int(os.environ.get("BOOKING_REQUEST_RESPONSE_HOURS", "24"))
BOOKING_REQUEST_CUTOFF_HOURS = int(os.environ.get("BOOKING_REQUEST_CUTOFF_HOURS", "2"))
# A live session ends (completed) this long after its duration (+ the mechanic's
# extensions) is up (booking/lifecycle.py).
SESSION_END_GRACE_MINUTES = int(os.environ.get("SESSION_END_GRACE_MINUTES", "10"))
# The session room's video/chat link, with {room} (an unguessable room name) and
# {session_id}; empty = the built-in placeholder room page (booking/room.py).
SESSION_ROOM_URL_TEMPLATE = os.environ.get("SESSION_ROOM_URL_TEMPLATE", "")
# Mechanics' own calendars (availability/external.py): each fetch gives up after this many
# seconds in total and stops reading beyond the size cap; each calendar is fetched again
# this many minutes after its last fetch. Private/loopback servers are refused (SSRF)
# unless allowed, which a laptop (DEBUG) and the tests need for local feeds.
EXTERNAL_CALENDARS_TIMEOUT = float(os.environ.get("EXTERNAL_CALENDARS_TIMEOUT", "10"))
EXTERNAL_CALENDARS_MAX_BYTES = int(
    os.environ.get("EXTERNAL_CALENDARS_MAX_BYTES", str(2 * 1024 * 1024))
)
EXTERNAL_CALENDARS_REFRESH_MINUTES = int(os.environ.get("EXTERNAL_CALENDARS_REFRESH_MINUTES", "15"))
EXTERNAL_CALENDARS_ALLOW_PRIVATE = env_bool("EXTERNAL_CALENDARS_ALLOW_PRIVATE", DEBUG)

# --- HTTPS and browser security headers -----------------------------------
# Production (DEBUG off) is assumed to be served over HTTPS, usually behind a TLS proxy:
# redirect plain HTTP, send HSTS, secure cookies. Each is a setting for the deployment.
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
# Both commit every subdomain to HTTPS for a year: turn them off for a shared domain.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
# Behind a proxy that terminates TLS: "HTTP_X_FORWARDED_PROTO,https" (header, value).
if os.environ.get("SECURE_PROXY_SSL_HEADER"):
    _header, _, _value = os.environ["SECURE_PROXY_SSL_HEADER"].partition(",")
    SECURE_PROXY_SSL_HEADER = (_header.strip(), _value.strip() or "https")
# Paths (regexes) served over plain HTTP too, e.g. a load balancer's health check.
SECURE_REDIRECT_EXEMPT = env_list("SECURE_REDIRECT_EXEMPT", "")
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (Django's own middleware): scripts only from this site (htmx,
# the app's JS and the API docs' Swagger UI are all served locally; no inline script or
# on* handler exists in the templates), no plugins, no framing, no foreign base URL.
# Inline style attributes are still allowed (the hour grid positions events with them).
# No form-action: paying redirects a form post to Stripe's checkout page.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# Every handler redacts secrets (tokens, secret link parts, keys: autodoctor/redaction.py).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "autodoctor.redaction.RedactSecretsFilter"},
        "production": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]},
        "server": {"class": "logging.StreamHandler", "formatter": "server", "filters": ["redact"]},
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "filters": ["production", "redact"],
            "level": "ERROR",
        },
    },
    "loggers": {
        "autodoctor": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
        # Django's own (request errors, 404 warnings): to the console in every mode,
        # redacted, and to ADMINS by email in production.
        "django": {"handlers": ["console", "mail_admins"], "level": "WARNING", "propagate": False},
        "django.server": {"handlers": ["server"], "level": "INFO", "propagate": False},
    },
}
DEFAULT_EXCEPTION_REPORTER = "autodoctor.redaction.RedactingExceptionReporter"

# analytics.nudges: the opt-in weekly "review your hours" email (plan §13.3) goes to a
# mechanic whose hours did not change for this many weeks and whose utilization over
# those weeks is below this share.
HOURS_REVIEW_STALE_WEEKS = int(os.environ.get("HOURS_REVIEW_STALE_WEEKS", "4"))
HOURS_REVIEW_LOW_UTILIZATION = 0.2
