"""Jinja2 for LaTeX: safe delimiters, strict undefined, escaping, and gettext per language."""

from __future__ import annotations

import functools
import gettext
import importlib.resources
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

import jinja2

from ..render.tex import Tex, escape_tex
from .i18n import kind_title, language, translations

Finalize = Callable[[Any], str]


def escape_unicode(text: object) -> Tex:
    r"""`escape_tex` for XeLaTeX: the same escapes, but letters stay themselves.

    pdflatex's escaping spells accented letters as accent commands and prints ``?`` for what
    it cannot typeset (Cyrillic, Chinese); XeLaTeX's fonts have them, so every letter, and
    every character pdflatex lacks, is kept as it is. Symbols and Greek letters keep their
    maths spelling (the text fonts have no Greek).

    Example:
        >>> print(escape_unicode("Сеть 50% ệ × δ 中 $x$"))
        Сеть 50\% ệ \ensuremath{\times} \ensuremath{\delta} 中 \$x\$
    """
    out: list[str] = []
    for ch in str(text):
        escaped = escape_tex(ch)
        letter = unicodedata.category(ch).startswith("L") and "ensuremath" not in escaped
        if ch >= "\x80" and (escaped == "?" or letter):
            out.append(ch)
        else:
            out.append(escaped)
    return Tex("".join(out))


def _finalizer(escape: Callable[[object], Tex]) -> Finalize:
    r"""What ``\VAR{…}`` prints: Tex as is, whole numbers as digits, other strings escaped."""

    def finalize(value: Any) -> str:
        if isinstance(value, Tex):
            return value
        if isinstance(value, jinja2.Undefined):
            return str(value)  # StrictUndefined raises here, naming the missing variable
        if isinstance(value, bool):
            raise TypeError("a template printed a boolean; test it with \\BLOCK{if} instead")
        if isinstance(value, int):
            return str(value)
        if isinstance(value, str):
            return escape(value)
        raise TypeError(
            f"a template printed a {type(value).__name__}; pass numbers as printed Tex strings"
        )

    return finalize


#: The finalize of pdflatex's sheets (English): Tex as is, numbers as digits, text escaped.
_finalize = _finalizer(escape_tex)


def _join(items: Iterable[Any], sep: str = "", *, finalize: Finalize = _finalize) -> Tex:
    """``join`` that keeps Tex items (and the template's own separator) as LaTeX."""
    return Tex(sep.join(finalize(item) for item in items))


def _gettext_callables(tr: gettext.NullTranslations, finalize: Finalize) -> dict[str, Any]:
    r"""gettext, ngettext, pgettext and npgettext for templates (Jinja2's new style).

    The translated message is LaTeX written by the translator and is printed as it is
    (`Tex`); each variable interpolated into it (``%(name)s``) goes through ``finalize``
    like any ``\VAR{}``. As with Jinja2's own new-style callables, the message is always a
    format string: a literal percent sign is ``%%`` (a trans block doubles it by itself).
    """

    def fill(message: str, variables: dict[str, Any]) -> Tex:
        return Tex(message % {key: finalize(value) for key, value in variables.items()})

    def gettext_(message: str, /, **variables: Any) -> Tex:
        return fill(tr.gettext(message), variables)

    def ngettext_(singular: str, plural: str, n: int, /, **variables: Any) -> Tex:
        variables.setdefault("num", n)
        return fill(tr.ngettext(singular, plural, n), variables)

    def pgettext_(context: str, message: str, /, **variables: Any) -> Tex:
        return fill(tr.pgettext(context, message), variables)

    def npgettext_(context: str, singular: str, plural: str, n: int, /, **variables: Any) -> Tex:
        variables.setdefault("num", n)
        return fill(tr.npgettext(context, singular, plural, n), variables)

    return {
        "gettext": gettext_,
        "ngettext": ngettext_,
        "pgettext": pgettext_,
        "npgettext": npgettext_,
    }


class _TemplateLoader(jinja2.BaseLoader):
    """Templates from the package data ``symcnn/sheet/templates``."""

    def __init__(self) -> None:
        self.root = _template_root()

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        entry = self.root.joinpath(template)
        if "/" in template or "\\" in template or not entry.is_file():
            raise jinja2.TemplateNotFound(template)
        return entry.read_text(encoding="utf-8"), str(entry), lambda: True

    def list_templates(self) -> list[str]:
        return sorted(e.name for e in self.root.iterdir() if e.name.endswith(".tex.j2"))


def _template_root() -> Any:
    """The folder of templates, found with importlib.resources (a wheel or a checkout)."""
    return importlib.resources.files("symcnn.sheet").joinpath("templates")


@functools.cache
def environment(lang: str = "en") -> jinja2.Environment:
    r"""The Jinja2 environment of ``*.tex.j2`` for sheets in ``lang``.

    ``\VAR{x}``, ``\BLOCK{if …}``, ``((= note =))``. Undefined names raise
    (StrictUndefined); printed values go through escaping unless they are `Tex` (XeLaTeX's
    languages keep their letters, see `escape_unicode`). There are no line statements, so
    ``%`` lines are plain LaTeX comments. Prose is marked with Jinja2's i18n extension
    (new-style gettext, trimmed): ``\BLOCK{trans n=k}…\VAR{n}…\BLOCK{endtrans}``,
    ``\VAR{_("…")}``, with the language's catalogue installed; ``kind_title(kind)`` is what
    the sheet calls a layer kind. Built once per language and process.

    Example:
        >>> env = environment()
        >>> env.from_string(r"\textbf{\VAR{title}}").render(title="50% off")
        '\\textbf{50\\% off}'
        >>> fr = environment("fr")
        >>> fr.from_string(r"\BLOCK{trans name=3}input \VAR{name}\BLOCK{endtrans}").render()
        'entrée 3'
        >>> fr.from_string(r"\VAR{_('max pooling')}, \VAR{kind_title('flatten')}").render()
        'regroupement maximal, aplatissement'
    """
    entry = language(lang)
    escape = escape_tex if entry.engine == "pdflatex" else escape_unicode
    finalize = _finalizer(escape)
    env = jinja2.Environment(
        loader=_TemplateLoader(),
        block_start_string=r"\BLOCK{",
        block_end_string="}",
        variable_start_string=r"\VAR{",
        variable_end_string="}",
        comment_start_string="((=",
        comment_end_string="=))",
        line_statement_prefix=None,
        line_comment_prefix=None,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        finalize=finalize,
        extensions=["jinja2.ext.i18n"],
    )
    env.policies["ext.i18n.trimmed"] = True
    env.newstyle_gettext = True  # type: ignore[attr-defined]
    tr = translations(entry.code)
    env.globals.update(_gettext_callables(tr, finalize))
    env.globals["kind_title"] = lambda kind: Tex(escape(kind_title(kind, entry.code)))
    env.filters["join"] = functools.partial(_join, finalize=finalize)
    env.filters["tex"] = escape
    env.filters["heading"] = heading
    return env


def heading(text: Any) -> Any:
    """A name as a heading: its first letter upper case, the rest as written (``ReLU`` stays).

    Example:
        >>> heading("convolution"), heading("ReLU"), heading("卷积")
        ('Convolution', 'ReLU', '卷积')
    """
    s = str(text)
    return type(text)(s[:1].upper() + s[1:]) if s else text


def render(template: str, **context: Any) -> str:
    """Render one template of ``templates/`` with the given context, in ``lang`` (a code).

    ``render(template, lang="ru", **context)``; English without ``lang``. The template sees
    ``lang`` as the `~symcnn.sheet.i18n.Language` (the preamble sets the engine, fonts and
    hyphenation from it).

    Example:
        >>> render("preamble.tex.j2", lang="ru", max_matrix_cols=0).splitlines()[0]
        '% !TEX program = xelatex'
    """
    lang = language(context.pop("lang", "en"))
    return environment(lang.code).get_template(template).render(lang=lang, **context)


def has_template(name: str) -> bool:
    """True when the package ships a template of this name (``layer_conv2d.tex.j2`` …).

    Example:
        >>> has_template("sheet.tex.j2"), has_template("no-such.tex.j2")
        (True, False)
    """
    return importlib.resources.files(__package__).joinpath("templates", name).is_file()
