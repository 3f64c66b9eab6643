"""The translation coverage checker itself (tests/i18n_check.py) finds what it should and
nothing else, on small apps written in a scratch directory."""

import textwrap

from tests.i18n_check import (
    catalogue_problems,
    unmarked_python_messages,
    untranslated_template_text,
)


def _app(tmp_path, files: dict[str, str]):
    app = tmp_path / "someapp"
    for name, text in files.items():
        path = app / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return app


def _texts(problems: list[str]) -> list[str]:
    return [problem.split(": ", 1)[1] for problem in problems]


def test_template_text_outside_translate_tags_is_found(tmp_path):
    app = _app(
        tmp_path,
        {
            "templates/someapp/page.html": """\
                {% load i18n %}<!-- a comment with words -->
                <h1>{% translate "Book a session" %}</h1>
                <p>{% blocktranslate trimmed with name=m.name %}Booked with {{ name }}{% endblocktranslate %}</p>
                <p>Pick a time</p>
                <span title="Close">&times; 12 · 29,99 $ 🚗</span>
                <img alt="{% translate 'Photo' %}" src="{{ url }}">
                <input type="submit" value="Send"><input type="hidden" name="x" value="keep">
                {{ vehicle|default:"not given" }} {{ price|default:"—" }}
                {% include "x.html" with label="Brands" active="hours" %}
                {% comment %}Notes for developers{% endcomment %}
                <footer>Auto Doctor</footer>
                {# i18n: ignore #}<code>GET /api</code>{# i18n: end #}
            """
        },
    )
    assert _texts(untranslated_template_text(app)) == [
        "literal 'not given'",
        "literal 'Brands'",
        "title='Close'",
        "button value='Send'",
        "text 'Pick a time'",
    ]


def test_python_messages_not_through_gettext_are_found(tmp_path):
    app = _app(
        tmp_path,
        {
            "views.py": """\
                from django.contrib import messages
                from django.utils.translation import gettext as _

                def view(request, name):
                    messages.success(request, f"Booked with {name}")
                    messages.info(request, _("Saved."))
                    messages.error(request, _("Booked with %(name)s") % {"name": name})
                    raise NotAllowed("Only admins.")

                def other():
                    raise ValueError("a programmer's mistake, not shown")

                def machine():
                    raise NotFound("session")  # i18n: ignore
            """,
            "forms.py": """\
                from django import forms
                from django.db import models
                from django.utils.translation import gettext_lazy as _

                class Form(forms.Form):
                    name = forms.CharField(label="Your name", help_text=_("Shown to mechanics"))
                    kind = forms.ChoiceField(choices=[("a", "Car owner"), ("b", _("Mechanic"))])
                    note = forms.CharField(widget=forms.Textarea(attrs={"placeholder": "Say more", "rows": 3}))

                    def clean(self):
                        self.add_error("name", "Too long")
                        raise forms.ValidationError({"name": "Taken"})

                class Status(models.TextChoices):
                    OPEN = "open", "Open"
                    DONE = "done", _("Done")
            """,
        },
    )
    assert _texts(unmarked_python_messages(app)) == [
        "label= 'Your name'",
        "choice label 'Car owner'",
        "attrs['placeholder'] 'Say more'",
        "add_error() 'Too long'",
        "ValidationError() 'Taken'",
        "choice label 'Open'",
        "messages.success() 'Booked with '",
        "NotAllowed() 'Only admins.'",
    ]


def test_catalogue_problems_name_untranslated_fuzzy_and_placeholder_mismatches(tmp_path):
    po_file = tmp_path / "django.po"
    po_file.write_text(
        textwrap.dedent(
            """\
            msgid ""
            msgstr ""
            "Content-Type: text/plain; charset=UTF-8\\n"
            "Plural-Forms: nplurals=2; plural=(n > 1);\\n"

            msgid "Book"
            msgstr "Réserver"

            msgid "Booked with %(name)s"
            msgstr "Réservé avec %(nom)s"

            #, fuzzy
            msgid "Session"
            msgstr "Séance"

            msgid "Workshop"
            msgstr ""

            msgid "A long "
            "text"
            msgstr "Un long "
            "texte"

            msgid "%(count)s session"
            msgid_plural "%(count)s sessions"
            msgstr[0] "une séance"
            msgstr[1] ""

            #~ msgid "Gone"
            #~ msgstr ""
            """
        ),
        encoding="utf-8",
    )
    problems = [p for p in catalogue_problems(po_file) if not p.startswith("msgfmt")]
    assert [problem.split(": ", 1)[1] for problem in problems] == [
        "'Booked with %(name)s' placeholders ['%(name)s'] became ['%(nom)s']",
        "'Session' is fuzzy",
        "'Workshop' is untranslated",
        "'%(count)s session' is untranslated",
    ]
