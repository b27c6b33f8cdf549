"""Jinja2 for LaTeX: safe delimiters, strict undefined, and escaping of every untrusted string."""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Callable, Iterable
from typing import Any

import jinja2

from ..render.tex import Tex, escape_tex


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
        extensions=["jinja2.ext.i18n"],
    )
    env.filters["join"] = _join
    env.filters["tex"] = escape_tex
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    return env


class _Message(Tex):
    """A message (LaTeX): Jinja's gettext fills in its variables with ``%``, which escapes
    each variable like any ``\\VAR{}`` and keeps the message itself as LaTeX."""

    def __mod__(self, variables: Any) -> Tex:
        return Tex(str.__mod__(self, {k: _finalize(v) for k, v in dict(variables).items()}))


def _gettext(message: str) -> _Message:
    """The message (untranslated for now: English), as LaTeX."""
    return _Message(message)


def _ngettext(singular: str, plural: str, n: int) -> _Message:
    """The singular or plural message for ``n``, as LaTeX."""
    return _Message(singular if n == 1 else plural)


def render(template: str, **context: Any) -> str:
    """Render one template of ``templates/`` with the given context.

    Example:
        >>> "\\documentclass" in render("sheet.tex.j2", **example_context())  # doctest: +SKIP
        True
    """
    return environment().get_template(template).render(**context)


def has_template(name: str) -> bool:
    """True when the package ships a template of this name (``layer_conv2d.tex.j2`` …).

    Example:
        >>> has_template("sheet.tex.j2"), has_template("no-such.tex.j2")
        (True, False)
    """
    return importlib.resources.files(__package__).joinpath("templates", name).is_file()
