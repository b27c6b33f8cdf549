"""The languages of sheets: how TeX typesets each one, and its gettext catalogue of words."""

from __future__ import annotations

import ast
import gettext
import importlib.resources
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, NamedTuple

from ..errors import LanguageError
from ..kinds.registry import LAYERS

#: The gettext domain: ``locale/<lang>/LC_MESSAGES/symcnn.mo`` in this package.
DOMAIN = "symcnn"
#: The language the messages are written in (its sheets need no catalogue).
SOURCE = "en"


class Need(NamedTuple):
    """Something a language's sheets need on the machine, and the Debian package that has it.

    ``what`` is ``program`` (found on PATH), ``file`` (found by kpsewhich) or ``font`` (a
    family fontconfig knows).
    """

    what: str
    name: str
    package: str


#: The TeX engine programs and the Debian packages that install them.
ENGINES: dict[str, tuple[str, ...]] = {
    "pdflatex": ("texlive-latex-base", "texlive-latex-recommended", "texlive-pictures"),
    "xelatex": ("texlive-xetex",),
    "lualatex": ("texlive-luatex",),
}

_XETEX = Need("program", "xelatex", "texlive-xetex")
_LATIN_MODERN = Need("file", "lmroman10-regular.otf", "fonts-lmodern")


@dataclass(frozen=True)
class Language:
    """One language of sheets, and what TeX needs to typeset it.

    ``engine`` is the program the sheet's first line names (``% !TEX program = …``);
    ``polyglossia`` the language's name for polyglossia (hyphenation patterns, caption names,
    punctuation), with ``polyglossia_options``; ``ctex`` typesets Chinese with the ctex
    package (xeCJK, the Fandol fonts, Chinese caption names and line breaking); ``fonts`` are
    fontspec's main, sans and typewriter fonts (None: Latin Modern, fontspec's default);
    ``needs`` lists what must be installed, each with its Debian package.
    """

    code: str
    english: str
    native: str
    engine: str = "xelatex"
    polyglossia: str | None = None
    polyglossia_options: str = ""
    ctex: bool = False
    fonts: tuple[str, str, str] | None = None
    needs: tuple[Need, ...] = ()

    @property
    def label(self) -> str:
        """``ru (русский)``: how the command line lists it.

        Example:
            >>> LANGUAGES["vi"].label
            'vi (Tiếng Việt)'
        """
        return f"{self.code} ({self.native})"


#: Every language a sheet can be written in, in the order of the seeds (000 to 004).
#: English is pdflatex's, as before; the others use XeLaTeX with OpenType fonts: Latin
#: Modern (fontspec's default) has every letter of Spanish, French and Vietnamese, CMU Serif
#: (Computer Modern with Cyrillic) matches the maths in Russian, and ctex sets Chinese in
#: FandolSong. Vietnamese has no hyphenation patterns (its syllables are never split).
LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("en", "English", "English", engine="pdflatex"),
        Language(
            "es",
            "Spanish",
            "español",
            polyglossia="spanish",
            polyglossia_options="spanishoperators=none",
            needs=(_XETEX, _LATIN_MODERN, Need("file", "hyph-es.tex", "texlive-lang-spanish")),
        ),
        Language(
            "vi",
            "Vietnamese",
            "Tiếng Việt",
            polyglossia="vietnamese",
            needs=(_XETEX, _LATIN_MODERN),
        ),
        Language(
            "ru",
            "Russian",
            "русский",
            polyglossia="russian",
            polyglossia_options="mathfunctions=false",
            fonts=("CMU Serif", "CMU Sans Serif", "CMU Typewriter Text"),
            needs=(
                _XETEX,
                Need("font", "CMU Serif", "fonts-cmu"),
                Need("file", "hyph-ru.tex", "texlive-lang-cyrillic"),
            ),
        ),
        Language(
            "zh",
            "Chinese",
            "中文",
            ctex=True,
            needs=(
                _XETEX,
                _LATIN_MODERN,
                Need("file", "ctex.sty", "texlive-lang-chinese"),
                Need("file", "FandolSong-Regular.otf", "texlive-lang-chinese"),
                Need("file", "xeCJK.sty", "texlive-lang-cjk"),
            ),
        ),
        Language(
            "fr",
            "French",
            "français",
            polyglossia="french",
            needs=(_XETEX, _LATIN_MODERN, Need("file", "hyph-fr.tex", "texlive-lang-french")),
        ),
    )
}


def language(code: str) -> Language:
    """The language of this code, or `LanguageError` listing the languages there are.

    Example:
        >>> language("zh").engine
        'xelatex'
        >>> language("de")
        Traceback (most recent call last):
        symcnn.errors.LanguageError: unknown language 'de'; choose one of en (English), es (español), vi (Tiếng Việt), ru (русский), zh (中文), fr (français)
    """
    found = LANGUAGES.get(code) if isinstance(code, str) else None
    if found is None:
        choices = ", ".join(lang.label for lang in LANGUAGES.values())
        raise LanguageError(f"unknown language {code!r}; choose one of {choices}")
    return found


#: Loaded catalogues by language code (a test may put a pseudo-translation here).
_CATALOGUES: dict[str, gettext.NullTranslations] = {}


def translations(lang: str) -> gettext.NullTranslations:
    """The gettext catalogue of ``lang``: ``tr.gettext("…")``, ``tr.ngettext(…)``.

    English needs none (the messages are English); the others read the compiled
    ``locale/<lang>/LC_MESSAGES/symcnn.mo`` shipped with the package.

    Example:
        >>> translations("es").gettext("max pooling")
        'agrupación máxima'
        >>> translations("en").gettext("max pooling")
        'max pooling'
    """
    code = language(lang).code
    if code not in _CATALOGUES:
        if code == SOURCE:
            _CATALOGUES[code] = gettext.NullTranslations()
        else:
            mo = importlib.resources.files(__package__).joinpath(
                "locale", code, "LC_MESSAGES", f"{DOMAIN}.mo"
            )
            try:
                data = mo.read_bytes()
            except FileNotFoundError:
                raise LanguageError(
                    f"the catalogue of {code} is missing ({mo}); run scripts/catalogs compile"
                ) from None
            _CATALOGUES[code] = gettext.GNUTranslations(io.BytesIO(data))
    return _CATALOGUES[code]


def kind_title(layer: Any, lang: str = SOURCE) -> str:
    """What a sheet in ``lang`` calls a layer kind: its ``title``, through the catalogue.

    ``layer`` is a layer (or its class) or its kind as a network file names it.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> [kind_title(layer, "zh") for layer in preset("seed003").specs]
        ['卷积', 'sigmoid 函数']
    """
    if isinstance(layer, str):
        if layer not in LAYERS:
            raise KeyError(f"no layer kind {layer!r}")
        layer = LAYERS[layer]
    return translations(lang).gettext(layer.title)


def extract_titles(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[Any, ...]]:
    """Babel's extractor for ``symcnn/kinds/**.py`` (see babel.cfg).

    Yields every class's ``title = "…"`` (what a sheet calls the kind; the kinds keep their
    names to themselves, so the message stays beside its kind), then the module's ordinary
    gettext calls, as Babel's Python extractor finds them.
    """
    from babel.messages.extract import extract_python  # a development dependency

    tree = ast.parse(fileobj.read())
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for stmt in node.body:
            if (
                isinstance(stmt, ast.Assign)
                and [getattr(t, "id", None) for t in stmt.targets] == ["title"]
                and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.value.value, str)
            ):
                yield stmt.lineno, None, stmt.value.value, ["the name of a kind of layer"]
    fileobj.seek(0)
    yield from extract_python(fileobj, keywords, comment_tags, options)
