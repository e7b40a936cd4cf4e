"""Settings shared by every environment. Values come from the environment via config.env."""

from datetime import timedelta

from config.env import BASE_DIR, VAR_DIR, env

SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-change-me")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
# Absolute base of links in e-mails (verification, unsubscribe): a worker has no request.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
SERVICE_NAME = env("SERVICE_NAME", default="ConsentMail")
# Reverse proxies in front of the app that append to X-Forwarded-For (0: none, use the peer).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "anymail",
    "axes",
    "csp",
    # Its static bundle (Tiptap/ProseMirror) is the visual editor: static/js/template-editor.js.
    "django_prose_editor",
    "accounts",
    "lists",
    "campaigns",
    "moderation",
    "complaints",
    "outbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The browser's Accept-Language for everyone; config.i18n below overrides it with a choice.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.i18n.ChosenLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A new terms or privacy version must be accepted before the next sending action.
    "accounts.terms.TermsGateMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A domain NotFound is the 404 page wherever a browser view raises it (config.browser_errors).
    "config.browser_errors.BrowserErrorsMiddleware",
    # Last, as django-axes asks: it turns a refused login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.site",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A transaction that reads, then writes, fails at once with "database is locked" when another
    # process wrote meanwhile (SQLite cannot wait there without risking a deadlock). BEGIN
    # IMMEDIATE takes the write lock up front, and waits up to `timeout` seconds for it.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Throttle counters live here: use Redis (CACHE_URL=redis://...) when several processes serve.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

AUTH_USER_MODEL = "accounts.User"
# django-axes first: it refuses a locked-out (address, client) pair before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Privacy rule 9: the session cookie is the only cookie; sessions end with the browser. The CSRF
# token lives in the session (no csrftoken cookie): scripts read it from the form's hidden input.
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * 12
CSRF_USE_SESSIONS = True
CSRF_COOKIE_SAMESITE = "Lax"
# The messages framework would otherwise set a "messages" cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Password guessing (django-axes): AXES_FAILURE_LIMIT wrong passwords for one address from one
# client address lock that pair out for AXES_COOLOFF_MINUTES (a try on the login page restarts
# it; the API refuses without counting). The
# same address from elsewhere, and other addresses from the same client, still log in. It covers
# the login page, the admin's login and POST /api/v1/auth/token/ (accounts/lockout.py).
# Password spraying (one guess each for many addresses): AXES_IP_FAILURE_LIMIT wrong passwords
# from one client address, for any addresses, within the cool-off lock that client out of every
# address (0 switches this off). Everyone behind one NAT shares the count, hence the higher limit.
AXES_ENABLED = True  # axes' default, named because accounts.lockout reads it
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_IP_FAILURE_LIMIT = env.int("AXES_IP_FAILURE_LIMIT", default=30)
AXES_HANDLER = "accounts.lockout.LockoutHandler"
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
# Logins match addresses case-insensitively, so the lock must too, or "A@x" would dodge "a@x".
AXES_USERNAME_CALLABLE = "accounts.lockout.attempted_username"
# The address TRUSTED_PROXY_COUNT allows, never one the client chose (X-Forwarded-For).
AXES_CLIENT_IP_CALLABLE = "config.http.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
# Privacy rule 9: successful logins are not logged; failed attempts go once their cool-off ends.
AXES_DISABLE_ACCESS_LOG = True

# Content-Security-Policy (django-csp): scripts, styles and images from our own origin only, no
# inline script or style, never framed. Pages showing a campaign's HTML in the sandboxed srcdoc
# frame (which inherits this policy) widen it for the mail's inline styles and remote images:
# config/security.py. Referrer, nosniff and framing headers come from Django's middlewares.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ru", "Русский")]
# Built from the catalogues in locale/parts/ by `bin/translations build` (bin/setup runs it).
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Files browsers ask for at the site's root (/favicon.ico), served by WhiteNoise as they are.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"
MEDIA_ROOT = env("MEDIA_ROOT", default=str(VAR_DIR / "media"))
FILE_UPLOAD_HANDLERS = [
    "config.uploads.RequestSizeLimit",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# --- Mail ----------------------------------------------------------------------------------------
# Any Django or django-anymail backend, e.g. "anymail.backends.mailgun.EmailBackend" + ANYMAIL.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="127.0.0.1")
EMAIL_PORT = env.int("EMAIL_PORT", default=1025)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env(
    "DEFAULT_FROM_EMAIL", default="ConsentMail <no-reply@consentmail.localhost>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ANYMAIL = env.json("ANYMAIL", default={})

# --- Celery --------------------------------------------------------------------------------------
# Locally the broker is kombu's filesystem transport so nothing has to be installed; set
# CELERY_BROKER_URL=redis://... in production and CI.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem"):
    _queue_dir = VAR_DIR / "broker"
    # kombu's filesystem transport does not create its folders.
    for _folder in ("queue", "processed", "control"):
        (_queue_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "processed_folder": str(_queue_dir / "processed"),
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis", "rediss")):
    # An unacknowledged task (acks_late) is handed to another worker after this long. Send tasks
    # drain for SEND_TASK_SECONDS at most and nothing is ever scheduled with an ETA or countdown
    # (the hold is read from the database), so an hour never re-delivers a task still running.
    # Redis itself must run with maxmemory-policy noeviction (docker-compose.yml): evicting a
    # queue's key loses tasks silently.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
    }
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {
    "recheck-sender-domains": {"task": "accounts.recheck_sender_domains", "schedule": 3600.0},
    "purge-stale-imports": {"task": "lists.purge_stale_imports", "schedule": 3600.0},
    "resume-stalled-imports": {"task": "lists.resume_stalled_imports", "schedule": 300.0},
    "tend-exports": {"task": "lists.tend_exports", "schedule": 300.0},
    # The hold's end is read from the database, never scheduled as an ETA (see sending.py); an
    # ended hold is judged within this (tests/integration/test_local_stack.py lowers both).
    "evaluate-holds": {
        "task": "moderation.evaluate_holds",
        "schedule": env.float("EVALUATE_HOLDS_SECONDS", default=60.0),
    },
    # Scheduled campaigns start within this of their time; a time in the database, no ETA task
    # (one for next month would sit in a worker and be redelivered by Redis every hour).
    "start-due-campaigns": {
        "task": "campaigns.start_due_campaigns",
        "schedule": env.float("SCHEDULE_CHECK_SECONDS", default=30.0),
    },
    # Dead batches are found within a lease plus this; the fault harness lowers both.
    "sweep-sending": {
        "task": "campaigns.sweep_sending",
        "schedule": env.float("SEND_SWEEP_SECONDS", default=15.0),
    },
}

# --- API -----------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.roles.MemberRole",
    ],
    "DEFAULT_PAGINATION_CLASS": "config.api.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "config.schema.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's three, with a JSON parser that refuses what DRF's lets through to a 500.
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # Counted in the cache (CACHE_URL). The last one never throttles: it makes POSTs honour the
    # Idempotency-Key header (config/idempotency.py), so a view setting its own list needs it too.
    "DEFAULT_THROTTLE_CLASSES": [
        "accounts.throttling.TokenRateThrottle",
        "accounts.throttling.AccountRateThrottle",
        "config.idempotency.IdempotencyGate",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "credentials": env("THROTTLE_CREDENTIALS", default="10/min"),
        "token": env("THROTTLE_TOKEN", default="600/min"),
        "account": env("THROTTLE_ACCOUNT", default="1200/min"),
    },
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ConsentMail API",
    "DESCRIPTION": "REST API v1 of the consent-first bulk e-mail service. "
    "Authenticate with `Authorization: Token <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # The campaign's status appears in several serializers: one named enum, not colliding copies.
    "ENUM_NAME_OVERRIDES": {
        "CampaignStatusEnum": "campaigns.states.CampaignStatus",
        # "source" and "format" are also the names of other choice sets (consent source, the
        # export query's csv/xlsx): these are the background exports' own.
        "ExportSourceEnum": "lists.models.ExportSource",
        "ExportFormatEnum": "lists.models.ExportFormat",
    },
}

# --- Product rules -------------------------------------------------------------------------------
TERMS_VERSION = env("TERMS_VERSION", default="2026-11-01")
PRIVACY_VERSION = env("PRIVACY_VERSION", default="2026-12-06")
EMAIL_VERIFICATION_MAX_AGE = env.int("EMAIL_VERIFICATION_MAX_AGE", default=3 * 24 * 3600)
# How long a team invitation's link works (accounts.team).
INVITATION_DAYS = env.int("INVITATION_DAYS", default=7)
# Nameservers for sender-domain checks, "ip" or "ip:port"; empty means the system resolver.
DNS_NAMESERVERS = env.list("DNS_NAMESERVERS", default=[])
DNS_TIMEOUT = env.float("DNS_TIMEOUT", default=5.0)
DOMAIN_VERIFICATION_PREFIX = "consentmail-verification="
# DKIM (accounts.dkim): we sign every message our SMTP path sends with the From domain's key.
# The private keys are encrypted at rest with a key derived from DKIM_KEY_SECRET (production
# requires it; changing it makes the stored keys unreadable: rotate every domain's key first).
DKIM_SIGNING = env.bool("DKIM_SIGNING", default=True)
DKIM_KEY_SECRET = env("DKIM_KEY_SECRET", default=SECRET_KEY)
DKIM_SELECTOR_PREFIX = env("DKIM_SELECTOR_PREFIX", default="cm")
DKIM_KEY_CACHE_SECONDS = env.int("DKIM_KEY_CACHE_SECONDS", default=300)
# The SPF include that authorises our sending hosts (merged into the domain's SPF record).
SPF_INCLUDE = env("SPF_INCLUDE", default="_spf.consentmail.localhost")
# The rua= of the DMARC record we suggest; empty: dmarc-reports@ the sender's own domain.
DMARC_REPORT_ADDRESS = env("DMARC_REPORT_ADDRESS", default="")
# The sender's logo on recipient pages (PNG, JPEG, GIF or WebP; never SVG, which can carry script).
BRAND_LOGO_MAX_BYTES = env.int("BRAND_LOGO_MAX_BYTES", default=200 * 1024)

PROBE_SHARE = env.float("PROBE_SHARE", default=0.10)
PROBE_CAP = env.int("PROBE_CAP", default=1000)
HOLD_SECONDS = env.int("HOLD_SECONDS", default=21600)
# Opens and clicks (campaigns.tracking_queue): with a Redis URL here, the pixel and the click
# redirect append the hit to a Redis stream and `manage.py consume_events` records them in
# batches; empty (the default: tests and bin/run have no Redis), each hit is recorded at once in
# the request. A consumer claims the entries of a dead one after CLAIM_SECONDS idle.
TRACKING_QUEUE_URL = env("TRACKING_QUEUE_URL", default="")
TRACKING_QUEUE_CLAIM_SECONDS = env.float("TRACKING_QUEUE_CLAIM_SECONDS", default=30.0)
TRACKING_QUEUE_BATCH = env.int("TRACKING_QUEUE_BATCH", default=500)
# After a batch shorter than TRACKING_QUEUE_BATCH the consumer waits this long for the next one
# to fill (fewer, larger transactions); the counters lag by about this much.
TRACKING_QUEUE_LINGER_SECONDS = env.float("TRACKING_QUEUE_LINGER_SECONDS", default=0.2)
# How long a web process keeps an approved campaign's links for the click redirect (the
# approved version never changes; a campaign approved again after a rejection gets its new
# version's links within this time).
TRACKING_LINKS_CACHE_SECONDS = env.float("TRACKING_LINKS_CACHE_SECONDS", default=60.0)
HARD_BOUNCE_LIMIT = env.float("HARD_BOUNCE_LIMIT", default=0.05)
COMPLAINT_LIMIT = env.float("COMPLAINT_LIMIT", default=0.005)
COMPLAINT_REVIEW = env.float("COMPLAINT_REVIEW", default=0.003)
COMPLAINT_WARN = env.float("COMPLAINT_WARN", default=0.001)
HARD_BOUNCE_WARN = env.float("HARD_BOUNCE_WARN", default=0.02)
# The thresholds above and below are read through campaigns.verdict.Thresholds, by the probe's
# verdict and by account health alike (fractions: 0.01 is 1%); each metric is green under WARN,
# amber from it, review over REVIEW (hard bounces: over HARD_BOUNCE_LIMIT).
# Provider blocks (a spam filter refusing the content or the sender, RFC 3463 5.7.x): judged like
# hard bounces, amber from 2% and review over 5%. Both say the same about a campaign (mail the
# providers will not take), and mailbox providers throttle a sender at rejection rates of a few
# percent. The policy names blocks but no figure, so they never flag the account by themselves.
BLOCK_WARN = env.float("BLOCK_WARN", default=0.02)
BLOCK_REVIEW = env.float("BLOCK_REVIEW", default=0.05)
# Unsubscribes: a campaign to people who asked for it loses a few in a thousand (the published
# benchmarks of the large ESPs put the average near 0.1-0.3%); 1% is several times that, and over
# 2% the list did not expect this mail. Amber from 1%, review over 2% (30% is never released).
UNSUBSCRIBE_WARN = env.float("UNSUBSCRIBE_WARN", default=0.01)
UNSUBSCRIBE_REVIEW = env.float("UNSUBSCRIBE_REVIEW", default=0.02)
# A consent request's probe (campaigns.consent_requests): unsubscribing is one way of answering
# "no", so its levels are looser; its complaints, bounces and blocks are judged like any campaign's.
CONSENT_REQUEST_UNSUBSCRIBE_WARN = env.float("CONSENT_REQUEST_UNSUBSCRIBE_WARN", default=0.05)
CONSENT_REQUEST_UNSUBSCRIBE_REVIEW = env.float("CONSENT_REQUEST_UNSUBSCRIBE_REVIEW", default=0.15)
# A probe recipient is inactive when sent at least one of the account's last INACTIVE_CAMPAIGNS
# campaigns and opened or clicked none of them as a person (machine opens and scanner clicks do
# not count). The share is shown to the moderator and in the verdict; it never decides the tier.
INACTIVE_CAMPAIGNS = env.int("INACTIVE_CAMPAIGNS", default=3)
# Soft bounces (a full mailbox, greylisting) are temporary; this many of one address's messages
# soft-bouncing, the first and the last at least this many days apart, suppress it for the
# account (never platform-wide): the mailbox is not coming back.
SOFT_BOUNCE_SUPPRESS_COUNT = env.int("SOFT_BOUNCE_SUPPRESS_COUNT", default=3)
SOFT_BOUNCE_SUPPRESS_DAYS = env.float("SOFT_BOUNCE_SUPPRESS_DAYS", default=7.0)
SEND_BATCH_SIZE = env.int("SEND_BATCH_SIZE", default=500)
# Send tasks queued per campaign at once (each drains batch after batch), and how long one task
# drains before it re-queues itself, so long sends share the workers fairly.
SEND_TASKS_PER_CAMPAIGN = env.int("SEND_TASKS_PER_CAMPAIGN", default=4)
SEND_TASK_SECONDS = env.float("SEND_TASK_SECONDS", default=60.0)
# A batch whose worker has not been heard of for this long is dead: its unsent rows go back.
SEND_LEASE_SECONDS = env.float("SEND_LEASE_SECONDS", default=120.0)
SEND_MAX_ATTEMPTS = env.int("SEND_MAX_ATTEMPTS", default=6)
SEND_RETRY_SECONDS = env.int("SEND_RETRY_SECONDS", default=60)  # doubled after each deferral
# Messages per second (0: no limit), shared by all workers through the cache.
SEND_RATE_GLOBAL = env.int("SEND_RATE_GLOBAL", default=5000)
SEND_RATE_PER_ACCOUNT = env.int("SEND_RATE_PER_ACCOUNT", default=2000)
SEND_RATE_PROVIDER_DEFAULT = env.int("SEND_RATE_PROVIDER_DEFAULT", default=1000)
SEND_RATE_PER_PROVIDER = env.json(
    "SEND_RATE_PER_PROVIDER",
    default={"gmail": 1000, "yahoo": 500, "microsoft": 500, "yandex": 300, "mailru": 300},
)
APPEAL_HOURS = env.int("APPEAL_HOURS", default=24)
# An appeal may carry documents (signed forms: PDF or images): at most this many, each this big.
APPEAL_FILES_MAX = env.int("APPEAL_FILES_MAX", default=5)
APPEAL_FILE_MAX_BYTES = env.int("APPEAL_FILE_MAX_BYTES", default=10 * 1024 * 1024)

# --- Campaigns -----------------------------------------------------------------------------------
# Where bounces (VERP return path) and mailto: unsubscribes arrive: a domain whose MX is ours.
BOUNCE_DOMAIN = env("BOUNCE_DOMAIN", default="bounces.consentmail.localhost")
# VERP return paths need a backend that sets the envelope sender (Django's SMTP backend does;
# many ESPs refuse it and match bounces by their own message ids and our metadata instead).
VERP_ENABLED = env.bool("VERP_ENABLED", default=EMAIL_BACKEND.endswith("smtp.EmailBackend"))
# The last part of every Feedback-ID header (Gmail's "SenderId"): stable, names this service.
FEEDBACK_ID_SENDER = env("FEEDBACK_ID_SENDER", default="consentmail")
CAMPAIGN_HTML_MAX_BYTES = env.int("CAMPAIGN_HTML_MAX_BYTES", default=512 * 1024)
TEST_SENDS_PER_HOUR = env.int("TEST_SENDS_PER_HOUR", default=20)
# Runs at submission; campaigns must not import moderation, so it is named here.
CONTENT_ANALYSER = "moderation.analyser.analyse_campaign"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# --- Lists ---------------------------------------------------------------------------------------
# Keys the hashes that suppressions keep after an address is erased. Never change it once set.
SUPPRESSION_HASH_KEY = env("SUPPRESSION_HASH_KEY", default=SECRET_KEY)
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=50 * 1024 * 1024)
CONSENT_PROOF_MAX_BYTES = env.int("CONSENT_PROOF_MAX_BYTES", default=10 * 1024 * 1024)
IMPORT_BATCH_SIZE = env.int("IMPORT_BATCH_SIZE", default=20000)
# Each batch commits its progress: smaller batches for smaller files, so that the progress bar
# moves about this many times, but never under IMPORT_MIN_BATCH_SIZE rows (a transaction each).
IMPORT_PROGRESS_STEPS = env.int("IMPORT_PROGRESS_STEPS", default=20)
IMPORT_MIN_BATCH_SIZE = env.int("IMPORT_MIN_BATCH_SIZE", default=100)
# A file chosen on an import form that was refused for something else is kept this long for the
# next try (lists.services.held_uploads), then purged with the stale imports.
HELD_UPLOAD_SECONDS = env.int("HELD_UPLOAD_SECONDS", default=3600)
# Exports (lists.services.export_jobs). The files are the account's subscribers with their
# consent: kept outside MEDIA_ROOT, served only to the signed-in requester, deleted when expired.
EXPORTS_ROOT = env("EXPORTS_ROOT", default=str(VAR_DIR / "exports"))
# Exports answered in the request, measured by bench/export_bench.py (1,000,000 rows): a CSV of
# up to EXPORT_STREAM_MAX_ROWS streams (~80,000 rows a second: about 1.3 s); an XLSX of up to
# EXPORT_XLSX_INLINE_MAX_ROWS (~7,000 rows a second, and sent only once the workbook is
# finished: about 1.5 s). Anything larger, and the account's ZIP, is written by a worker.
EXPORT_STREAM_MAX_ROWS = env.int("EXPORT_STREAM_MAX_ROWS", default=100_000)
EXPORT_XLSX_INLINE_MAX_ROWS = env.int("EXPORT_XLSX_INLINE_MAX_ROWS", default=10_000)
# A finished export's file (and the signed link mailed to its requester) lasts this long.
EXPORT_KEEP_SECONDS = env.int("EXPORT_KEEP_SECONDS", default=3 * 24 * 3600)
# A running export with no progress for this long lost its worker: beat queues it again.
EXPORT_STALL_SECONDS = env.int("EXPORT_STALL_SECONDS", default=15 * 60)
# One confirmation e-mail per address per this many seconds, however often the form is sent.
CONFIRMATION_RESEND_SECONDS = env.int("CONFIRMATION_RESEND_SECONDS", default=600)
SUBSCRIBE_CONFIRM_MAX_AGE = env.int("SUBSCRIBE_CONFIRM_MAX_AGE", default=7 * 24 * 3600)
# Hosted and embedded form posts allowed per client address per minute.
SUBSCRIBE_RATE_PER_MINUTE = env.int("SUBSCRIBE_RATE_PER_MINUTE", default=10)
# A list is flagged for moderators when role addresses make up more than this share of it.
ROLE_ADDRESS_FLAG_SHARE = env.float("ROLE_ADDRESS_FLAG_SHARE", default=0.5)
# POST lists/{id}/subscribers/bulk/: items per request, body size, items per transaction.
BULK_UPSERT_MAX_ITEMS = env.int("BULK_UPSERT_MAX_ITEMS", default=10_000)
BULK_UPSERT_MAX_BYTES = env.int("BULK_UPSERT_MAX_BYTES", default=16 * 1024 * 1024)
BULK_UPSERT_CHUNK_SIZE = env.int("BULK_UPSERT_CHUNK_SIZE", default=2_500)
# Idempotency-Key: how long an answer is replayed, and how long a request in progress holds it.
IDEMPOTENCY_KEY_SECONDS = env.int("IDEMPOTENCY_KEY_SECONDS", default=24 * 3600)
IDEMPOTENCY_LOCK_SECONDS = env.int("IDEMPOTENCY_LOCK_SECONDS", default=300)

# --- Complaints, bounces and enforcement --------------------------------------------------------
# Account health: rolling rates over the messages sent in this window, judged only once at
# least HEALTH_MIN_SENT messages were sent (a handful of sends says nothing).
HEALTH_WINDOW_DAYS = env.int("HEALTH_WINDOW_DAYS", default=30)
HEALTH_MIN_SENT = env.int("HEALTH_MIN_SENT", default=200)
# Upheld abuse reports within the window that warn the account.
ABUSE_UPHELD_WARN = env.int("ABUSE_UPHELD_WARN", default=1)
# After an unappealed freeze the account is scheduled for deletion; its data goes this much later.
DELETION_GRACE_DAYS = env.int("DELETION_GRACE_DAYS", default=30)
# Public abuse form posts allowed per client address per hour.
ABUSE_REPORTS_PER_HOUR = env.int("ABUSE_REPORTS_PER_HOUR", default=5)
ABUSE_REPORT_MAX_BYTES = env.int("ABUSE_REPORT_MAX_BYTES", default=64 * 1024)
# Amazon SNS: the hosts a signing certificate may come from (SigningCertURL).
SNS_CERT_HOST_PATTERN = env(
    "SNS_CERT_HOST_PATTERN", default=r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$"
)
# Topics SES events may come from (empty: any topic whose messages carry a valid signature).
SNS_TOPIC_ARNS = env.list("SNS_TOPIC_ARNS", default=[])
# Mailgun signs a timestamp; older signed posts are refused (replays). Mailgun retries for ~8 h.
MAILGUN_WEBHOOK_MAX_AGE_SECONDS = env.int("MAILGUN_WEBHOOK_MAX_AGE_SECONDS", default=24 * 3600)
# process_feedback: a larger message is counted as unparsed; messages read per task run.
FEEDBACK_MAX_MESSAGE_BYTES = env.int("FEEDBACK_MAX_MESSAGE_BYTES", default=10 * 1024 * 1024)
FEEDBACK_MAILBOX_BATCH = env.int("FEEDBACK_MAILBOX_BATCH", default=1000)
# Worker processes a long mailbox run parses in while it applies (0: parse in the run's own).
FEEDBACK_PARSE_PROCESSES = env.int("FEEDBACK_PARSE_PROCESSES", default=2)
# The mailbox process_feedback reads on a schedule: an mbox or Maildir path, or
# imaps://user:password@host/folder. Empty: only the command reads feedback.
FEEDBACK_MAILBOX = env("FEEDBACK_MAILBOX", default="")
# Retention (rule 9), in days: uploaded import files, tracking events (opens and clicks),
# recipients' feedback events, outgoing webhook deliveries, read notifications, sign-ups never
# confirmed. The privacy page (accounts.privacy) states each of these periods.
RETENTION_IMPORT_FILE_DAYS = env.int("RETENTION_IMPORT_FILE_DAYS", default=30)
RETENTION_TRACKING_DAYS = env.int("RETENTION_TRACKING_DAYS", default=180)
RETENTION_FEEDBACK_DAYS = env.int("RETENTION_FEEDBACK_DAYS", default=365)
RETENTION_WEBHOOK_DELIVERY_DAYS = env.int("RETENTION_WEBHOOK_DELIVERY_DAYS", default=30)
RETENTION_NOTIFICATION_DAYS = env.int("RETENTION_NOTIFICATION_DAYS", default=180)
RETENTION_UNCONFIRMED_DAYS = env.int("RETENTION_UNCONFIRMED_DAYS", default=30)
# Clients a consent request asked who never said yes are deleted this long after it ended.
CONSENT_REQUEST_KEEP_DAYS = env.int("CONSENT_REQUEST_KEEP_DAYS", default=30)
# "Preferences" of a dormant account (no login, no API use, nothing sent for this many days) are
# purged: its subscribers' custom attributes (interests, segments, other imported or API fields
# beyond address, name and phone) and its imports' saved column mappings. Subscribers, consent
# records, suppressions and reports stay. The policy says "a couple of months": 3 by default.
RETENTION_DORMANT_PREFERENCES_DAYS = env.int("RETENTION_DORMANT_PREFERENCES_DAYS", default=90)
CELERY_BEAT_SCHEDULE.update(
    {
        "check-account-health": {"task": "moderation.check_account_health", "schedule": 300.0},
        "expire-appeals": {"task": "moderation.expire_appeal_windows", "schedule": 300.0},
        "delete-scheduled-accounts": {"task": "moderation.delete_due_accounts", "schedule": 3600.0},
        "purge-expired": {"task": "moderation.purge_expired", "schedule": 24 * 3600.0},
        "read-feedback-mailbox": {"task": "complaints.read_feedback_mailbox", "schedule": 300.0},
    }
)

# --- Blocklist watch (complaints/blocklists.py) --------------------------------------------------
# DNSBL zones asked about the service's sending IPs (e.g. zen.spamhaus.org) and about every
# verified sender domain (e.g. dbl.spamhaus.org); none by default, so nothing is asked.
DNSBL_IP_ZONES = env.list("DNSBL_IP_ZONES", default=[])
DNSBL_DOMAIN_ZONES = env.list("DNSBL_DOMAIN_ZONES", default=[])
# The service's own sending IPs (IPv4 or IPv6), asked of DNSBL_IP_ZONES.
SENDING_IPS = env.list("SENDING_IPS", default=[])
BLOCKLIST_CHECK_SECONDS = env.float("BLOCKLIST_CHECK_SECONDS", default=3600.0)
# The safety net for one-click unsubscribes when no events consumer drains them.
CELERY_BEAT_SCHEDULE["apply-pending-one-clicks"] = {
    "task": "complaints.apply_pending_one_clicks",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["check-blocklists"] = {
    "task": "complaints.check_blocklists",
    "schedule": BLOCKLIST_CHECK_SECONDS,
}

# --- Outgoing webhooks ---------------------------------------------------------------------------
# Deliveries to private, loopback, link-local and other non-public addresses are refused unless
# this is set (tests and local development with a receiver on the same machine).
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = env.bool("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", default=False)
WEBHOOKS_TIMEOUT_SECONDS = env.float("WEBHOOKS_TIMEOUT_SECONDS", default=5.0)
# Only this much of a receiver's answer is read and kept in the delivery log.
WEBHOOKS_RESPONSE_MAX_BYTES = env.int("WEBHOOKS_RESPONSE_MAX_BYTES", default=2048)
# Seconds before each retry of a 408/429/5xx/timeout/connection failure; then it has failed.
WEBHOOKS_RETRY_DELAYS = env.list(
    "WEBHOOKS_RETRY_DELAYS", cast=int, default=[10, 30, 60, 120, 300, 600]
)
# How long one attempt holds its claim on a delivery (longer than any attempt can take).
WEBHOOKS_CLAIM_SECONDS = env.int("WEBHOOKS_CLAIM_SECONDS", default=60)
CELERY_BEAT_SCHEDULE["webhooks-retry-due"] = {
    "task": "accounts.webhooks_retry_due",
    "schedule": 60.0,
}
