"""Translation coverage: text people see that is not marked for translation, and French
catalogues that are incomplete (issue 16 part 4; docs/i18n.md).

Three checks, each returning a list of readable problems ("path:line: …"), empty when clean:

- `untranslated_template_text(app_dir)`: text in the app's templates outside
  `{% translate %}` / `{% blocktranslate %}`, read with Django's own template lexer (DebugLexer: the Lexer with positions): text
  between tags, the title/alt/aria-label/placeholder attributes (and the value of submit
  buttons), and literal strings given to `|default:` / `|default_if_none:` / `|yesno:` or as
  prose to `{% include … with x="…" %}`.
- `unmarked_python_messages(app_dir)`: string literals (also f-strings, `"…" % x`,
  `"…".format()`) given directly — not through gettext/_/gettext_lazy/ngettext — to an error
  a person reads (DomainError and its subclasses, ValidationError, HttpError, any other
  `<Name>Error` that is not a Python built-in), to `messages.success/info/warning/error`,
  to `form.add_error`, as a field's `label=` / `help_text=` / `empty_label=`, a widget's
  placeholder/title/aria-label attribute, an `error_messages=` value, or a choice label
  (`TextChoices` members, `choices=[(value, "Label")]`).
- `catalogue_problems(po_file)`: entries untranslated, fuzzy, or whose placeholders
  (`%(name)s`, `%s`, `{name}`) differ from the msgid's; plus `msgfmt --check` errors.

And `catalogue_missing(app_dir)`: strings marked in the app that its catalogue lacks (runs
`makemessages` on a copy of the app, so the committed catalogue is never touched).

A line that is rightly left in English (a machine code, an operator-only message) carries
`# i18n: ignore` (Python) or sits in `{# i18n: ignore #}` … `{# i18n: end #}` (templates).
"""

from __future__ import annotations

import ast
import builtins
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.template.base import DebugLexer, TokenType

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "autodoctor"

# Text that stays as it is in every language: the brand, and each language's own name in the
# header's switch (a French speaker looks for « Français » on an English page).
ALLOWED_TEXT = ("Auto Doctor", "Français", "English")

LETTER = re.compile(r"[^\W\d_]")
HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
RAW_ELEMENT = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.S | re.I)
TAG = re.compile(r"<[^>]*>", re.S)
SHOWN_ATTRIBUTE = re.compile(
    r"""\s(title|alt|aria-label|placeholder)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I
)
BUTTON_VALUE = re.compile(
    r"""<input\b(?=[^>]*\stype\s*=\s*["']?(?:submit|button|reset)\b)[^>]*"""
    r"""\svalue\s*=\s*(?:"([^"]*)"|'([^']*)')""",
    re.I | re.S,
)
FILTER_LITERAL = re.compile(r"""\|\s*(default|default_if_none|yesno)\s*:\s*(["'])(.*?)\2""")
WITH_LITERAL = re.compile(r"""\b(\w+)\s*=\s*(["'])(.*?)\2""")
# Stands for a non-text token in the flattened template: no letters, keeps the line count.
HOLE = "\x00"


def _has_words(text: str) -> bool:
    text = ENTITY.sub(" ", text)
    for allowed in ALLOWED_TEXT:
        text = text.replace(allowed, " ")
    return bool(LETTER.search(text))


def _where(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def _shown(text: str) -> str:
    return " ".join(text.replace(HOLE, "{…}").split())


def _line_of(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


def _tag_name(token_contents: str) -> str:
    return token_contents.split(maxsplit=1)[0] if token_contents.strip() else ""


# --------------------------------------------------------------------------- templates


def template_files(app_dir: Path) -> list[Path]:
    return sorted(p for p in (Path(app_dir) / "templates").rglob("*") if p.is_file())


def _flatten(source: str) -> tuple[str, list[tuple[int, str]]]:
    """The template with every tag, variable, comment and translated block replaced by a
    HOLE (newlines kept, so offsets map to lines), and the literals found in tags/variables
    that are shown to people, with their line."""
    parts: list[str] = []
    literals: list[tuple[int, str]] = []
    skip_until: set[str] = set()  # end tags of the block whose text we skip
    # DebugLexer is Django's Lexer that also keeps where each token starts and ends.
    for token in DebugLexer(source).tokenize():
        start, end = token.position
        text = source[start:end]
        hole = HOLE + "\n" * text.count("\n")
        if skip_until:
            if token.token_type is TokenType.BLOCK and _tag_name(token.contents) in skip_until:
                skip_until = set()
            parts.append(hole)
            continue
        if token.token_type is TokenType.TEXT:
            parts.append(text)
            continue
        parts.append(hole)
        contents = token.contents
        if token.token_type is TokenType.COMMENT:
            if contents.strip() == "i18n: ignore":
                parts.append("\x01IGNORE")
            elif contents.strip() == "i18n: end":
                parts.append("\x01END")
            continue
        name = _tag_name(contents)
        if token.token_type is TokenType.BLOCK and name in ("blocktranslate", "blocktrans"):
            skip_until = {"endblocktranslate", "endblocktrans"}
            continue
        if token.token_type is TokenType.BLOCK and name in ("comment", "verbatim"):
            skip_until = {"end" + name}
            continue
        if token.token_type is TokenType.BLOCK and name in ("translate", "trans"):
            continue
        for match in FILTER_LITERAL.finditer(contents):
            literals.append((token.lineno, match.group(3)))
        if token.token_type is TokenType.BLOCK and name in ("include", "with"):
            for match in WITH_LITERAL.finditer(contents):
                value = match.group(3)
                # Prose (a capital or a space), not a machine value like active="hours".
                if re.search(r"\s|^[A-Z]", value):
                    literals.append((token.lineno, value))
    flat = "".join(parts)
    # {# i18n: ignore #} … {# i18n: end #}: text rightly left as it is.
    flat = re.sub(
        r"\x01IGNORE.*?(\x01END|$)", lambda m: "\n" * m.group(0).count("\n"), flat, flags=re.S
    )
    flat = flat.replace("\x01END", "")
    return flat, literals


def untranslated_template_text(app_dir: Path) -> list[str]:
    problems: list[str] = []
    for path in template_files(app_dir):
        source = path.read_text(encoding="utf-8")
        where = _where(path)
        flat, literals = _flatten(source)
        for lineno, value in literals:
            if _has_words(value.replace(HOLE, " ")):
                problems.append(f"{where}:{lineno}: literal {_shown(value)!r}")
        blank = lambda m: "\n" * m.group(0).count("\n") + " "  # noqa: E731
        flat = HTML_COMMENT.sub(blank, flat)
        flat = RAW_ELEMENT.sub(blank, flat)
        for match in SHOWN_ATTRIBUTE.finditer(flat):
            value = match.group(2) if match.group(2) is not None else match.group(3)
            if _has_words(value.replace(HOLE, " ")):
                line = _line_of(flat, match.start())
                problems.append(f"{where}:{line}: {match.group(1)}={_shown(value)!r}")
        for match in BUTTON_VALUE.finditer(flat):
            value = match.group(1) if match.group(1) is not None else match.group(2)
            if _has_words(value.replace(HOLE, " ")):
                line = _line_of(flat, match.start())
                problems.append(f"{where}:{line}: button value={_shown(value)!r}")
        # Each tag ends a text run, so a problem points at one text node.
        flat = TAG.sub(lambda m: HOLE + "\n" * m.group(0).count("\n"), flat)
        for match in re.finditer(r"[^\x00]+", flat):
            chunk = match.group(0)
            if _has_words(chunk):
                start = match.start() + len(chunk) - len(chunk.lstrip())
                text = " ".join(chunk.split())
                problems.append(f"{where}:{_line_of(flat, start)}: text {text!r}")
    return problems


# --------------------------------------------------------------------------- Python

TRANSLATORS = frozenset(
    {
        "_",
        "gettext",
        "gettext_lazy",
        "ngettext",
        "ngettext_lazy",
        "pgettext",
        "pgettext_lazy",
        "npgettext",
        "npgettext_lazy",
        "_lazy",
        "format_lazy",
    }
)
MESSAGE_LEVELS = frozenset({"debug", "info", "success", "warning", "error"})
FIELD_TEXT_KEYWORDS = frozenset({"label", "help_text", "empty_label"})
SHOWN_WIDGET_ATTRS = frozenset({"placeholder", "title", "aria-label", "alt"})
# Raised for operators and programmers, not shown to the people using the site.
NOT_SHOWN_ERRORS = frozenset(
    {name for name in dir(builtins) if name.endswith(("Error", "Exception"))}
    | {"CommandError", "ImproperlyConfigured", "FeedError"}
)
CHOICES_BASES = frozenset({"TextChoices", "IntegerChoices", "Choices"})
IGNORE_MARK = "# i18n: ignore"


def _domain_error_names() -> frozenset[str]:
    """DomainError and every class that derives from it anywhere in the project."""
    bases: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases.setdefault(node.name, set()).update(_called_name(base) for base in node.bases)
    found = {"DomainError"}
    changed = True
    while changed:
        changed = False
        for name, parents in bases.items():
            if name not in found and parents & found:
                found.add(name)
                changed = True
    return frozenset(found)


def _called_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _literal_text(node: ast.AST | None) -> str | None:
    """The English a node spells out without gettext, or None (translated, or not a literal)."""
    if node is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value if LETTER.search(node.value) else None
    if isinstance(node, ast.JoinedStr):
        text = "".join(
            part.value
            for part in node.values
            if isinstance(part, ast.Constant) and isinstance(part.value, str)
        )
        return text if LETTER.search(text) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return _literal_text(node.left) or _literal_text(node.right)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("format", "join", "strip")
    ):
        return _literal_text(node.func.value)
    if isinstance(node, ast.IfExp):
        return _literal_text(node.body) or _literal_text(node.orelse)
    if isinstance(node, ast.Dict):
        for value in node.values:
            if (text := _literal_text(value)) is not None:
                return text
    if isinstance(node, ast.List | ast.Tuple):
        for element in node.elts:
            if (text := _literal_text(element)) is not None:
                return text
    return None


@dataclass
class _Scan(ast.NodeVisitor):
    where: Path
    lines: list[str]
    error_names: frozenset[str]
    problems: list[str] = field(default_factory=list)

    def _report(self, node: ast.AST, what: str, text: str) -> None:
        line = self.lines[node.lineno - 1] if node.lineno <= len(self.lines) else ""
        if IGNORE_MARK in line:
            return
        self.problems.append(f"{self.where}:{node.lineno}: {what} {text!r}")

    def _check(self, node: ast.AST | None, what: str, at: ast.AST) -> None:
        if (text := _literal_text(node)) is not None:
            self._report(at, what, text)

    def visit_Call(self, node: ast.Call) -> None:
        name = _called_name(node.func)
        func = node.func
        if name in self.error_names or (
            name.endswith("Error") and name not in NOT_SHOWN_ERRORS and name != "add_error"
        ):
            for arg in node.args:
                self._check(arg, f"{name}()", node)
            for keyword in node.keywords:
                if keyword.arg in ("message", "detail"):
                    self._check(keyword.value, f"{name}({keyword.arg}=)", node)
        elif (
            isinstance(func, ast.Attribute)
            and _called_name(func.value) == "messages"
            and (name in MESSAGE_LEVELS or name == "add_message")
        ):
            index = 2 if name == "add_message" else 1
            if len(node.args) > index:
                self._check(node.args[index], f"messages.{name}()", node)
            for keyword in node.keywords:
                if keyword.arg == "message":
                    self._check(keyword.value, f"messages.{name}()", node)
        elif name == "add_error" and len(node.args) > 1:
            self._check(node.args[1], "add_error()", node)
        for keyword in node.keywords:
            if keyword.arg in FIELD_TEXT_KEYWORDS:
                self._check(keyword.value, f"{keyword.arg}=", node)
            elif keyword.arg == "error_messages":
                self._check(keyword.value, "error_messages=", node)
            elif keyword.arg == "attrs" and isinstance(keyword.value, ast.Dict):
                for key, value in zip(keyword.value.keys, keyword.value.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value in SHOWN_WIDGET_ATTRS:
                        self._check(value, f"attrs[{key.value!r}]", node)
            elif keyword.arg == "choices" and isinstance(keyword.value, ast.List | ast.Tuple):
                for choice in keyword.value.elts:
                    if isinstance(choice, ast.Tuple) and len(choice.elts) == 2:
                        self._check(choice.elts[1], "choice label", choice)
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if {_called_name(base) for base in node.bases} & CHOICES_BASES:
            for statement in node.body:
                if (
                    isinstance(statement, ast.Assign)
                    and isinstance(statement.value, ast.Tuple)
                    and len(statement.value.elts) >= 2
                ):
                    self._check(statement.value.elts[-1], "choice label", statement)
        self.generic_visit(node)


def python_files(app_dir: Path) -> list[Path]:
    return sorted(
        path
        for path in Path(app_dir).rglob("*.py")
        # Migrations freeze history; management commands talk to operators in a terminal.
        if not {"migrations", "management", "tests"} & set(path.relative_to(app_dir).parts)
    )


def unmarked_python_messages(app_dir: Path) -> list[str]:
    error_names = _domain_error_names() | {"ValidationError", "HttpError"}
    problems: list[str] = []
    for path in python_files(app_dir):
        source = path.read_text(encoding="utf-8")
        scan = _Scan(_where(path), source.splitlines(), error_names)
        scan.visit(ast.parse(source))
        problems.extend(scan.problems)
    return problems


# --------------------------------------------------------------------------- catalogues


@dataclass
class PoEntry:
    lineno: int
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    msgctxt: str | None = None
    obsolete: bool = False


def _unquote(text: str) -> str:
    return ast.literal_eval(text) if text else ""


def parse_po(po_file: Path) -> list[PoEntry]:
    """A small reader for the .po files makemessages writes (no dependency needed)."""
    entries: list[PoEntry] = []
    entry: PoEntry | None = None
    target: tuple[str, int] | None = None

    def begin(lineno: int) -> PoEntry:
        nonlocal entry
        if entry is None or entry.msgstr:
            entry = PoEntry(lineno=lineno)
            entries.append(entry)
        return entry

    for lineno, raw in enumerate(Path(po_file).read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line:
            target = None
            continue
        if line.startswith("#~"):
            begin(lineno).obsolete = True
            continue
        if line.startswith("#,"):
            current = begin(lineno)
            current.flags |= {flag.strip() for flag in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            keyword, rest = "", line
        if keyword == "msgctxt":
            begin(lineno).msgctxt = _unquote(rest)
            target = ("msgctxt", 0)
        elif keyword == "msgid":
            current = begin(lineno)
            current.msgid = _unquote(rest)
            target = ("msgid", 0)
        elif keyword == "msgid_plural":
            assert entry is not None
            entry.msgid_plural = _unquote(rest)
            target = ("msgid_plural", 0)
        elif keyword.startswith("msgstr"):
            assert entry is not None
            index = int(keyword[7:-1]) if keyword.startswith("msgstr[") else 0
            entry.msgstr[index] = _unquote(rest)
            target = ("msgstr", index)
        elif keyword == "" and target is not None and entry is not None:
            kind, index = target
            more = _unquote(rest)
            if kind == "msgstr":
                entry.msgstr[index] += more
            elif kind == "msgid_plural":
                entry.msgid_plural = (entry.msgid_plural or "") + more
            elif kind == "msgctxt":
                entry.msgctxt = (entry.msgctxt or "") + more
            else:
                entry.msgid += more
    return entries


PLACEHOLDER = re.compile(r"%\([^)]+\)[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgGc]|%[sdifr]|\{\w*\}")


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text.replace("%%", "")))


def catalogue_problems(po_file: Path) -> list[str]:
    po_file = Path(po_file)
    where = _where(po_file)
    problems: list[str] = []
    for entry in parse_po(po_file):
        if entry.obsolete or entry.msgid == "":
            continue  # the header, or an entry no longer used (msgmerge keeps it as #~)
        label = f"{where}:{entry.lineno}: {entry.msgid[:60]!r}"
        if "fuzzy" in entry.flags:
            problems.append(f"{label} is fuzzy")
        translations = entry.msgstr or {0: ""}
        if any(not text for text in translations.values()):
            problems.append(f"{label} is untranslated")
            continue
        for index, text in translations.items():
            source = entry.msgid if index == 0 or entry.msgid_plural is None else entry.msgid_plural
            expected = _placeholders(source)
            got = _placeholders(text)
            # French plurals may drop the count in the singular ("une séance").
            if got != expected and not (
                entry.msgid_plural is not None and set(got) <= set(_placeholders(source))
            ):
                problems.append(f"{label} placeholders {expected} became {got}")
    if shutil.which("msgfmt"):
        result = subprocess.run(
            ["msgfmt", "--check", "-o", "/dev/null", str(po_file)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode:
            problems.extend(f"msgfmt: {line}" for line in result.stderr.splitlines() if line)
    return problems


def catalogue_file(app_dir: Path) -> Path:
    return Path(app_dir) / "locale" / "fr_CA" / "LC_MESSAGES" / "django.po"


def catalogue_missing(app_dir: Path) -> list[str]:
    """Marked strings the committed catalogue lacks: `makemessages` runs on a copy of the
    app (templates, Python, the catalogue) and any entry it adds is reported."""
    app_dir = Path(app_dir)
    committed = catalogue_file(app_dir)
    have = {(e.msgctxt, e.msgid) for e in parse_po(committed) if not e.obsolete}
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / app_dir.name
        shutil.copytree(app_dir, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "manage.py"),
                "makemessages",
                "-l",
                "fr_CA",
                "--no-location",
                "--no-obsolete",
            ],
            cwd=copy,
            check=True,
            capture_output=True,
        )
        wanted = [e for e in parse_po(catalogue_file(copy)) if e.msgid and not e.obsolete]
    return [
        f"{_where(committed)}: missing {e.msgid[:60]!r} (run makemessages)"
        for e in wanted
        if (e.msgctxt, e.msgid) not in have
    ]


def has_user_facing_text(app_dir: Path) -> bool:
    """The app has templates or marks strings for translation in its Python."""
    if template_files(app_dir):
        return True
    marker = re.compile(r"\b(gettext|gettext_lazy|ngettext|pgettext)\b|\b_\(")
    return any(marker.search(path.read_text(encoding="utf-8")) for path in python_files(app_dir))
