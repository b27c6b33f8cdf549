"""Jinja2 for LaTeX: safe delimiters, strict undefined, and escaping of every untrusted string."""

from __future__ import annotations

import functools
import importlib.resources
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import jinja2

#: Where the templates live in a source checkout (the wheel ships them as symcnn.templates).
REPO_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


class Tex(str):
    """A string that is already LaTeX (made by symcnn's printers): templates output it as is.

    Every other string a template outputs is escaped, so text from users (titles, names,
    file names) can never become LaTeX commands.
    """

    __slots__ = ()


_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "%": r"\%",
    # the OT1 font encoding (no T1 here) lacks glyphs for these: they come from the
    # typewriter font, so they print (and copy out of the PDF) as themselves
    "_": r"\texttt{\char95}",
    "~": r"\texttt{\char126}",
    "^": r"\texttt{\char94}",
    '"': r"\texttt{\char34}",
    "`": r"\texttt{\char96}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "-": "-{}",  # no -- or --- ligatures: a title says what it says
    "\n": " ",
    "\r": " ",
    "\t": " ",
}

# accents as combining characters (NFD) → the LaTeX accent commands that OT1 supports
_ACCENTS = {
    "\u0300": "`",
    "\u0301": "'",
    "\u0302": "^",
    "\u0303": "~",
    "\u0304": "=",
    "\u0306": "u",
    "\u0307": ".",
    "\u0308": '"',
    "\u030a": "r",
    "\u030b": "H",
    "\u030c": "v",
    "\u0323": "d",
    "\u0327": "c",
}

_LETTERS = {
    "ß": r"\ss{}",
    "æ": r"\ae{}",
    "Æ": r"\AE{}",
    "ø": r"\o{}",
    "Ø": r"\O{}",
    "œ": r"\oe{}",
    "Œ": r"\OE{}",
    "ł": r"\l{}",
    "Ł": r"\L{}",
    "ı": r"\i{}",
    "–": "--",
    "—": "---",
    "‘": "`",
    "’": "'",
    "“": "``",
    "”": "''",
    "…": r"\dots{}",
    "\u00a0": "~",
    "×": r"\ensuremath{\times}",
    "·": r"\ensuremath{\cdot}",
    "→": r"\ensuremath{\to}",
    "≤": r"\ensuremath{\le}",
    "≥": r"\ensuremath{\ge}",
    "≠": r"\ensuremath{\ne}",
    "−": "-",
    "∂": r"\ensuremath{\partial}",
    "Σ": r"\ensuremath{\Sigma}",
    "⋆": r"\ensuremath{\star}",
    "⊙": r"\ensuremath{\odot}",
    "°": r"\ensuremath{^\circ}",
    **{
        ch: rf"\ensuremath{{\{name}}}"
        for ch, name in zip(
            "αβγδεζηθικλμνξπρστφχψωΓΔΘΛΞΠΦΨΩ",
            [
                "alpha",
                "beta",
                "gamma",
                "delta",
                "epsilon",
                "zeta",
                "eta",
                "theta",
                "iota",
                "kappa",
                "lambda",
                "mu",
                "nu",
                "xi",
                "pi",
                "rho",
                "sigma",
                "tau",
                "phi",
                "chi",
                "psi",
                "omega",
                "Gamma",
                "Delta",
                "Theta",
                "Lambda",
                "Xi",
                "Pi",
                "Phi",
                "Psi",
                "Omega",
            ],
        )
    },
}


def escape_tex(text: object) -> Tex:
    r"""Turn any text into LaTeX that prints exactly that text (pdflatex, OT1 fonts).

    Special characters become their text commands; accented Latin letters become accent
    commands; any other character pdflatex cannot typeset becomes ``?``.

    Example:
        >>> print(escape_tex(r"\input{/etc/passwd} 50% & $x$"))
        \textbackslash{}input\{/etc/passwd\} 50\% \& \$x\$
        >>> print(escape_tex("Café"))
        Caf\'{e}
    """
    out: list[str] = []
    for ch in str(text):
        if ch in _SPECIAL:
            out.append(_SPECIAL[ch])
        elif " " <= ch <= "~":
            out.append(ch)
        elif ch in _LETTERS:
            out.append(_LETTERS[ch])
        else:
            out.append(_accented(ch))
    return Tex("".join(out))


def _accented(ch: str) -> str:
    decomposed = unicodedata.normalize("NFD", ch)
    base, marks = decomposed[0], decomposed[1:]
    if not ("A" <= base <= "Z" or "a" <= base <= "z") or not marks:
        return "?"
    if not all(m in _ACCENTS for m in marks):
        return "?"
    body = r"\i{}" if base == "i" else base
    for mark in marks:
        body = f"\\{_ACCENTS[mark]}{{{body}}}"
    return body


def _finalize(value: Any) -> str:
    """What ``\\VAR{…}`` prints: Tex as is, whole numbers as digits, other strings escaped."""
    if isinstance(value, Tex):
        return value
    if isinstance(value, jinja2.Undefined):
        return str(value)  # StrictUndefined raises here, naming the missing variable
    if isinstance(value, bool):
        raise TypeError("a template printed a boolean; test it with \\BLOCK{if} instead")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return escape_tex(value)
    raise TypeError(
        f"a template printed a {type(value).__name__}; pass numbers as printed Tex strings"
    )


def _join(items: Iterable[Any], sep: str = "") -> Tex:
    """``join`` that keeps Tex items (and the template's own separator) as LaTeX."""
    return Tex(sep.join(_finalize(item) for item in items))


class _TemplateLoader(jinja2.BaseLoader):
    """Templates from the installed package ``symcnn.templates``, else the source tree."""

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
    """The folder of templates: importlib.resources first, the repository as fallback."""
    try:
        root = importlib.resources.files("symcnn.templates")
        if root.joinpath("sheet.tex.j2").is_file():
            return root
    except (ModuleNotFoundError, TypeError):
        pass
    return REPO_TEMPLATES


@functools.cache
def environment() -> jinja2.Environment:
    r"""The Jinja2 environment for ``*.tex.j2``: ``\VAR{x}``, ``\BLOCK{if …}``, ``((= note =))``.

    Undefined names raise (StrictUndefined); printed values go through escaping unless they
    are `Tex`. There are no line statements, so ``%`` lines are plain LaTeX comments.
    Built once per process (templates are parsed once).

    Example:
        >>> env = environment()
        >>> env.from_string(r"\textbf{\VAR{title}}").render(title="50% off")
        '\\textbf{50\\% off}'
    """
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
        finalize=_finalize,
    )
    env.filters["join"] = _join
    env.filters["tex"] = escape_tex
    return env


def render(template: str, **context: Any) -> str:
    """Render one template of ``templates/`` with the given context.

    Example:
        >>> "\\documentclass" in render("sheet.tex.j2", **example_context())  # doctest: +SKIP
        True
    """
    return environment().get_template(template).render(**context)
