"""Helpers of the language tests: the catalogues read by Babel, pseudo-languages, and readers
of a .tex that keep only its maths or only its words."""

from __future__ import annotations

import dataclasses
import functools
import gettext
import importlib.machinery
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from symcnn.sheet import i18n
from symcnn.sheet.tex import environment

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "symcnn" / "sheet" / "locale"

#: Letters that only text in the language has (what pdftotext must find in its PDF).
SCRIPTS = {
    "en": re.compile(r"[A-Za-z]{4,}"),
    "es": re.compile(r"[áéíóúñ]"),
    "vi": re.compile(r"[ạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹđơư]"),
    "ru": re.compile(r"[а-яё]{4,}"),
    "zh": re.compile(r"[\u4e00-\u9fff]{2,}"),
    "fr": re.compile(r"[éèêàçùœ]"),
}


@functools.cache
def catalogs() -> ModuleType:
    """scripts/catalogs as a module (the logic of ``scripts/catalogs check``)."""
    path = ROOT / "scripts" / "catalogs"
    loader = importlib.machinery.SourceFileLoader("symcnn_catalogs", str(path))
    spec = importlib.util.spec_from_loader("symcnn_catalogs", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def po(lang: str) -> Catalog:
    """A language's .po, read by Babel (not by the gettext module symcnn uses)."""
    with (LOCALE / lang / "LC_MESSAGES" / "symcnn.po").open("rb") as f:
        return read_po(f)


def translated(lang: str, msgid: str) -> str:
    """The translation of one message in a language's .po."""
    message = po(lang).get(msgid)
    assert message is not None and message.string, f"{msgid!r} is not translated in {lang}"
    return str(message.string)


@pytest.fixture
def fresh_environments() -> Iterator[None]:
    """Template environments are cached per language: start and end with none."""
    environment.cache_clear()
    yield
    environment.cache_clear()


def add_language(
    monkeypatch: pytest.MonkeyPatch,
    code: str,
    catalogue: gettext.NullTranslations,
    like: str = "ru",
) -> i18n.Language:
    """A language for one test, typeset like ``like``, with the given catalogue."""
    lang = dataclasses.replace(i18n.LANGUAGES[like], code=code, english=code, native=code)
    monkeypatch.setitem(i18n.LANGUAGES, code, lang)
    monkeypatch.setitem(i18n._CATALOGUES, code, catalogue)
    return lang


class Catalogue(gettext.NullTranslations):
    """A catalogue from a dict: msgid (or (singular, plural)) → translation(s)."""

    def __init__(self, table: dict[Any, Any]) -> None:
        super().__init__()
        self.table = table

    def gettext(self, message: str) -> str:
        return self.table.get(message, message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        forms = self.table.get((singular, plural))
        if forms is None:
            return singular if n == 1 else plural
        return forms[0] if n == 1 else forms[1]

    def pgettext(self, context: str, message: str) -> str:
        return self.gettext(message)

    def npgettext(self, context: str, singular: str, plural: str, n: int) -> str:
        return self.ngettext(singular, plural, n)


# --- the pseudo-translation: every word of a catalogue message marked ⟪…⟫ -----------------

_PROTECTED = re.compile(r"(%\([A-Za-z_]\w*\)[sd]|%%|\\[A-Za-z]+|\\.|\$[^$]*\$)")


def pseudo(message: str) -> str:
    """Every word outside placeholders, LaTeX commands and maths wrapped in ⟪…⟫.

    >>> pseudo(r"Layer %(n)s has \\emph{no} parameters ($w = 0$).")
    '⟪Layer⟫ %(n)s ⟪has⟫ \\\\emph{⟪no⟫} ⟪parameters⟫ ($w = 0$).'
    """
    parts = _PROTECTED.split(message)
    for i in range(0, len(parts), 2):
        parts[i] = re.sub(r"[A-Za-z][A-Za-z'-]*", lambda m: f"⟪{m.group()}⟫", parts[i])
    return "".join(parts)


class PseudoCatalogue(gettext.NullTranslations):
    """Translates exactly the messages the catalogues hold (as extracted), by `pseudo`.

    A message that reaches gettext without being in the catalogue (not extracted) stays
    English, like a word that never went through gettext: both are leaks.
    """

    def __init__(self, messages: set[Any]) -> None:
        super().__init__()
        self.messages = messages

    def gettext(self, message: str) -> str:
        return pseudo(message) if message in self.messages else message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        if (singular, plural) in self.messages:
            return pseudo(singular if n == 1 else plural)
        return singular if n == 1 else plural

    def pgettext(self, context: str, message: str) -> str:
        return self.gettext(message)

    def npgettext(self, context: str, singular: str, plural: str, n: int) -> str:
        return self.ngettext(singular, plural, n)


# --- readers of a .tex --------------------------------------------------------------------

_DISPLAY = re.compile(
    r"\\begin\{(align\*?|equation\*?|gather\*?|multline\*?|displaymath)\}.*?\\end\{\1\}",
    re.DOTALL,
)
_INLINE = re.compile(r"(?<!\\)\$(?:\\.|[^$\\])*(?<!\\)\$|\\\[.*?\\\]|\\\(.*?\\\)", re.DOTALL)
_COMMENT = re.compile(r"(?<!\\)%.*")


def body(tex: str) -> str:
    """The document's body, without its LaTeX comments."""
    text = tex.split(r"\begin{document}", 1)[-1]
    return "\n".join(_COMMENT.sub("", line) for line in text.splitlines())


def _braced(text: str, start: int) -> int:
    """The index just past the brace group that opens at ``text[start]``."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{" and text[i - 1] != "\\":
            depth += 1
        elif text[i] == "}" and text[i - 1] != "\\":
            depth -= 1
            if depth == 0:
                return i + 1
    return len(text)


def _maths_spans(text: str) -> list[tuple[int, int]]:
    """Where the maths of a text is, in order: display environments, \\fitmath{…}, $…$,
    \\[…\\] and \\(…\\) (what lies inside another piece is part of it)."""
    spans = [(m.start(), _braced(text, m.end() - 1)) for m in re.finditer(r"\\fitmath\{", text)]
    spans += [m.span() for m in _DISPLAY.finditer(text)]
    spans += [m.span() for m in _INLINE.finditer(text)]
    spans.sort(key=lambda span: (span[0], -span[1]))
    outer: list[tuple[int, int]] = []
    for start, end in spans:
        if not outer or start >= outer[-1][1]:
            outer.append((start, end))
        elif end > outer[-1][1]:
            outer[-1] = (outer[-1][0], end)
    return outer


def maths(tex: str) -> list[str]:
    """Every piece of maths of the body, in order."""
    text = body(tex)
    return [text[start:end] for start, end in _maths_spans(text)]


#: Commands whose braced argument is not prose (names, code, layout).
_NOT_PROSE = (
    "label|ref|eqref|cite|texttt|begin|end|includegraphics|setcounter|newcommand|"
    "renewcommand|hspace|vspace|rule|multicolumn|usepackage|color|textcolor|iverson"
)


def _drop_arguments(text: str) -> str:
    """The commands that are not prose removed with every [..] and {..} group after them."""
    out: list[str] = []
    pos = 0
    for m in re.finditer(rf"\\(?:{_NOT_PROSE})\*?(?![A-Za-z])", text):
        if m.start() < pos:
            continue
        out.append(text[pos : m.start()])
        end = m.end()
        while end < len(text) and text[end] in "[{":
            end = _braced(text, end) if text[end] == "{" else text.find("]", end) + 1 or len(text)
        out.append(" ")
        pos = end
    out.append(text[pos:])
    return "".join(out)


def words_left(tex: str) -> list[str]:
    """The words of the body outside ⟪…⟫, maths, LaTeX commands, code and TikZ syntax.

    >>> words_left(r"\\begin{document}⟪Layer⟫ $w_{11}$ \\texttt{0.weight} leak \\emph{⟪a⟫}")
    ['leak']
    """
    text = body(tex)
    for start, end in reversed(_maths_spans(text)):
        text = text[:start] + " " + text[end:]
    text = re.sub(r"⟪[^⟫]*⟫", " ", text)
    text = re.sub(
        r"\\begin\{tikzpicture\}.*?\\end\{tikzpicture\}",
        lambda m: " ".join(
            re.findall(r"node\s*\[[^\]]*\](?:\s*at\s*\([^)]*\))?\s*\{([^{}]*)\}", m.group())
        ),
        text,
        flags=re.DOTALL,
    )
    text = _drop_arguments(text)
    text = re.sub(r"\\[A-Za-z]+\*?(?:\[[^\]]*\])?", " ", text)
    return re.findall(r"[A-Za-z]{2,}", text)
