"""Every app's user-facing text is marked for translation and its French (Canada) catalogue
is complete (issue 16 part 4; the checks live in tests/i18n_check.py, docs/i18n.md)."""

import pytest

from tests.i18n_check import (
    PACKAGE,
    catalogue_file,
    catalogue_missing,
    catalogue_problems,
    has_user_facing_text,
    unmarked_python_messages,
    untranslated_template_text,
)

# Every app of the project: a new app is checked from its first line of text.
APPS = sorted(p.name for p in PACKAGE.iterdir() if (p / "apps.py").exists())


def _report(problems: list[str]) -> str:
    return f"{len(problems)} problem(s):\n" + "\n".join(problems)


@pytest.mark.parametrize("app", APPS)
def test_template_text_is_marked_for_translation(app):
    problems = untranslated_template_text(PACKAGE / app)
    assert not problems, _report(problems)


@pytest.mark.parametrize("app", APPS)
def test_python_messages_are_marked_for_translation(app):
    problems = unmarked_python_messages(PACKAGE / app)
    assert not problems, _report(problems)


@pytest.mark.parametrize("app", APPS)
def test_french_catalogue_is_complete(app):
    po_file = catalogue_file(PACKAGE / app)
    assert po_file.exists(), f"no catalogue: {po_file}"
    problems = catalogue_problems(po_file)
    assert not problems, _report(problems)


@pytest.mark.parametrize("app", APPS)
def test_french_catalogue_has_every_marked_string(app):
    if not catalogue_file(PACKAGE / app).exists():
        pytest.fail(f"no catalogue for {app}")
    problems = catalogue_missing(PACKAGE / app)
    assert not problems, _report(problems)


def test_every_app_with_user_facing_text_has_a_french_catalogue():
    apps = sorted(
        path
        for path in PACKAGE.iterdir()
        if (path / "apps.py").exists() and has_user_facing_text(path)
    )
    missing = [str(catalogue_file(app)) for app in apps if not catalogue_file(app).exists()]
    assert not missing, "\n".join(missing)
