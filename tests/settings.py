"""Settings for the test suite: the real settings plus a fast password hasher
(the default PBKDF2 makes every test login cost a few hundred milliseconds)."""

from autodoctor.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
