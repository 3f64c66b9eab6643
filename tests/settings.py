"""Settings for the test suite: the real settings plus a fast password hasher
(the default PBKDF2 makes every test login cost a few hundred milliseconds)."""

from autodoctor.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Rate limits off, so a test doing many writes as one user is not refused; the tests of
# the limits themselves (tests/test_rate_limits.py) set their own.
RATE_LIMITS = {"read": None, "write": None}

# The external-calendar tests serve their feeds from 127.0.0.1.
EXTERNAL_CALENDARS_ALLOW_PRIVATE = True
# The webhook tests post to a receiver on 127.0.0.1; the SSRF test turns this off.
WEBHOOKS_ALLOW_PRIVATE = True
# The suite never runs `collectstatic`: plain static names even in a DEBUG-off server
# process (tests/faults). The production profile's own test (tests/test_prod_profile.py)
# runs `./dev prod` with the real settings and the hashed, compressed files.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
