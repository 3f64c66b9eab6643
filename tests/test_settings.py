"""Settings refuse to start production with a public secret: each case imports
autodoctor.settings in a fresh interpreter with the environment a deployment would set."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "SIMULATED_PAYMENTS_ALLOWED",
    "SIMULATED_PAYMENTS_SECRET",
)


def _import_settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    clean.update(env, AUTODOCTOR_VAR_DIR=str(tmp_path))
    return subprocess.run(
        [sys.executable, "-c", "import autodoctor.settings"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


PRODUCTION = {"DEBUG": "false", "SECRET_KEY": "a-private-production-key"}


def test_production_settings_load(tmp_path):
    loaded = _import_settings(tmp_path, **PRODUCTION)
    assert loaded.returncode == 0, loaded.stderr


def test_production_without_a_secret_key_refuses_to_start(tmp_path):
    refused = _import_settings(tmp_path, DEBUG="false")
    assert refused.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY must be set when DEBUG is off" in refused.stderr


def test_simulated_payments_in_production_with_the_public_secret_refuse_to_start(tmp_path):
    refused = _import_settings(tmp_path, **PRODUCTION, SIMULATED_PAYMENTS_ALLOWED="true")
    assert refused.returncode != 0
    assert "ImproperlyConfigured: SIMULATED_PAYMENTS_ALLOWED is on with DEBUG off" in (
        refused.stderr
    )


@pytest.mark.parametrize(
    "env",
    [
        {
            **PRODUCTION,
            "SIMULATED_PAYMENTS_ALLOWED": "true",
            "SIMULATED_PAYMENTS_SECRET": "whsec_x1",
        },
        {**PRODUCTION, "SIMULATED_PAYMENTS_ALLOWED": "false"},
        {"DEBUG": "true", "SIMULATED_PAYMENTS_ALLOWED": "true"},  # local development
    ],
    ids=["private-secret", "simulated-off", "debug"],
)
def test_simulated_payments_start_with_a_private_secret_or_when_off_or_in_debug(tmp_path, env):
    loaded = _import_settings(tmp_path, **env)
    assert loaded.returncode == 0, loaded.stderr


def test_startup_warns_loudly_when_simulated_payments_use_the_public_secret(settings):
    from autodoctor.payments.checks import simulated_provider_with_public_secret

    settings.SIMULATED_PAYMENTS_ALLOWED = True
    settings.SIMULATED_PAYMENTS_SECRET = settings.SIMULATED_PAYMENTS_PUBLIC_SECRET
    (warning,) = simulated_provider_with_public_secret(None)
    assert warning.id == "payments.W001"
    assert "without paying" in warning.msg
    settings.SIMULATED_PAYMENTS_SECRET = "whsec_private_value"
    assert simulated_provider_with_public_secret(None) == []
    settings.SIMULATED_PAYMENTS_SECRET = settings.SIMULATED_PAYMENTS_PUBLIC_SECRET
    settings.SIMULATED_PAYMENTS_ALLOWED = False
    assert simulated_provider_with_public_secret(None) == []


def _manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    clean.pop("EMAIL_BACKEND", None)
    clean.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by the browser tests in this process
    clean.pop("DATABASE_URL", None)  # the checks may open the database: a scratch SQLite
    clean.update(
        env, AUTODOCTOR_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="autodoctor.settings"
    )
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


# check --deploy wants a long, varied key (security.W009).
DEPLOYED = {
    **PRODUCTION,
    "SECRET_KEY": "x7Qp2-Lm9vR4t8Zw1Kc6Ny3Hb5Jd0Fs-Ug7Ea2Xo4Ti9Pl6Mq-Wr8Yn1Cv5Bg3",
}


def test_check_deploy_is_clean_for_a_production_configuration(tmp_path):
    checked = _manage(
        tmp_path,
        "check",
        "--deploy",
        **DEPLOYED,
    )
    assert checked.returncode == 0, checked.stderr
    assert "System check identified no issues" in checked.stdout, checked.stdout + checked.stderr


def test_check_deploy_flags_the_console_mailer_in_production(tmp_path):
    checked = _manage(
        tmp_path,
        "check",
        "--deploy",
        **DEPLOYED,
        EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend",
    )
    assert checked.returncode != 0
    assert "mail.E001" in checked.stderr


def test_production_sends_https_headers_and_redirects_plain_http(tmp_path):
    probe = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "r = Client().get('/login/', secure=False)\n"
        "print(r.status_code, r['Location'])\n"
        "r = Client().get('/login/', secure=True)\n"
        "print(r.status_code, r['Strict-Transport-Security'], r['X-Frame-Options'],\n"
        "      r['X-Content-Type-Options'], r['Referrer-Policy'])\n"
    )
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    clean.update(
        PRODUCTION,
        AUTODOCTOR_VAR_DIR=str(tmp_path),
        ALLOWED_HOSTS="testserver",
        DJANGO_SETTINGS_MODULE="autodoctor.settings",
        STATIC_MANIFEST="false",  # no collectstatic here (tests/test_prod_profile.py runs it)
    )
    ran = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    redirect, headers = ran.stdout.splitlines()
    assert redirect == "301 https://testserver/login/"
    assert headers.split()[0] == "200"
    assert "max-age=31536000; includeSubDomains; preload" in headers
    assert headers.split()[-3:] == ["DENY", "nosniff", "same-origin"]


def _database_options(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DB_PREPARE_THRESHOLD")
    }
    clean.update(env, AUTODOCTOR_VAR_DIR=str(tmp_path))
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import autodoctor.settings as s; print(sorted(s.DATABASES['default'].get('OPTIONS', {}).items()))",
        ],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


PG_URL = "postgres://postgres@127.0.0.1:5432/any"


@pytest.mark.parametrize(
    ("env", "options"),
    [
        ({"DATABASE_URL": PG_URL}, "[('prepare_threshold', 5), ('server_side_binding', True)]"),
        (
            {"DATABASE_URL": PG_URL, "DB_PREPARE_THRESHOLD": "0"},
            "[('prepare_threshold', 0), ('server_side_binding', True)]",
        ),
        ({"DATABASE_URL": PG_URL, "DB_PREPARE_THRESHOLD": "off"}, "[]"),
        ({"DB_PREPARE_THRESHOLD": "5"}, "[('init_command',"),  # SQLite: its own options only
    ],
    ids=["postgres-default", "postgres-at-once", "postgres-off", "sqlite"],
)
def test_postgres_prepares_statements_unless_told_not_to(tmp_path, env, options):
    loaded = _database_options(tmp_path, **env)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.startswith(options), loaded.stdout


def test_a_prepare_threshold_that_is_not_a_number_refuses_to_start(tmp_path):
    loaded = _database_options(tmp_path, DATABASE_URL=PG_URL, DB_PREPARE_THRESHOLD="five")
    assert loaded.returncode != 0
    assert "DB_PREPARE_THRESHOLD must be a whole number" in loaded.stderr


@pytest.mark.django_db
def test_on_postgres_a_statement_run_often_is_prepared_once():
    """The setting takes effect on the real connection: after the threshold's runs the
    statement is prepared on the server (pg_prepared_statements), so later runs skip
    parsing and planning."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    sql = "SELECT count(*) FROM accounts_user WHERE id > %s"
    with connection.cursor() as cursor:
        for run in range((connection.settings_dict["OPTIONS"].get("prepare_threshold") or 5) + 2):
            cursor.execute(sql, [run])
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["SELECT count(*) FROM accounts_user WHERE id > $1%"],
        )
        assert cursor.fetchone()[0] == 1
