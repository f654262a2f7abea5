"""Bastion settings: everything that differs between installs comes from the environment."""

import os
from pathlib import Path

import dj_database_url
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("BASTION_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    if key := os.environ.get("BASTION_SECRET_KEY"):
        return key
    # A development install keeps a generated key under var/ so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        import secrets

        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("BASTION_DEBUG", "") == "1"
BASE_URL = os.environ.get("BASTION_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("BASTION_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [BASE_URL]
# How many reverse proxies in front of Bastion append to X-Forwarded-For. Sign-in throttling
# and the audit trail use the client address; 0 means trust only the TCP peer address.
BASTION_TRUSTED_PROXIES = int(os.environ.get("BASTION_TRUSTED_PROXIES", "0"))

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks_db",
    "bastion.accounts",
    "bastion.audit",
    "bastion.people",
    "bastion.systems",
    "bastion.awareness",
    "bastion.response",
    "bastion.phishing",
    "bastion.incidents",
    "bastion.outbox",
    "bastion.jobs",
    "bastion.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "bastion.lib.http.RejectNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "bastion.accounts.middleware.MfaRequiredMiddleware",
    "bastion.accounts.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "bastion.urls"
WSGI_APPLICATION = "bastion.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "bastion" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "bastion.accounts.context_processors.navigation",
            ],
        },
    }
]

# Database: SQLite under var/ unless DATABASE_URL says otherwise.
DATABASES = {
    "default": dj_database_url.config(
        # Persistent connections (checked before reuse): a tracking hit then costs its statements,
        # not a connection's setup too.
        default=f"sqlite:///{VAR_DIR / 'bastion.sqlite3'}", conn_max_age=60, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE makes every write transaction take the write lock up front, so concurrent
    # writers queue instead of failing, and the audit chain is appended strictly in order.
    # WAL lets each thread's persistent connection read while another writes.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_bastion_{os.getpid()}"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
]

# Sessions and cookies: short-lived, HTTP-only, same-site; secure when served over HTTPS.
_https = BASE_URL.startswith("https://")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = _https
SESSION_COOKIE_AGE = 8 * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_COOKIE_SECURE = _https
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if _https:
    SECURE_HSTS_SECONDS = 31536000
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Strict CSP: no inline script or style anywhere; scripts and styles come from our origin.
SECURE_CSP = {
    "default-src": [CSP.NONE],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
}

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "bastion" / "static"]
WHITENOISE_USE_FINDERS = True

# Uploads: a 100,000-person HR export is about 15 MB; refuse anything much larger.
BASTION_MAX_UPLOAD_BYTES = int(os.environ.get("BASTION_MAX_UPLOAD_BYTES", 25 * 1024 * 1024))
DATA_UPLOAD_MAX_MEMORY_SIZE = BASTION_MAX_UPLOAD_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = BASTION_MAX_UPLOAD_BYTES + 1024 * 1024

# Email: BASTION_EMAIL_URL=smtp://user:pass@host:587?tls=1 (or smtps://). Without it,
# messages are kept in the outbox, readable there, and never sent.
BASTION_EMAIL_URL = os.environ.get("BASTION_EMAIL_URL", "")
DEFAULT_FROM_EMAIL = os.environ.get("BASTION_FROM_EMAIL", "Bastion <bastion@localhost>")

# Background work: django.tasks with the database backend, run by `bastion worker`.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Extra modules holding periodic jobs (tests use this to register probe jobs).
BASTION_EXTRA_TASK_MODULES = [
    m for m in os.environ.get("BASTION_EXTRA_TASK_MODULES", "").split(",") if m
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("BASTION_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.server": {"level": "WARNING"},
        # WeasyPrint says "Step 5 - Creating layout - Page 37" at INFO for every page of a PDF.
        "weasyprint.progress": {"level": "WARNING"},
    },
}

NINJA_PAGINATION_PER_PAGE = 50
NINJA_PAGINATION_MAX_LIMIT = 500
