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
