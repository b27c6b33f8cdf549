"""Sheets in every language compile with their engine and fonts: no missing glyph, and the
PDF's text is in the language's script (each compile is skipped without what it needs)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from i18n_support import SCRIPTS, maths, translated
from tex_support import pdf_text

from symcnn import MaxPool2d, derive, preset
from symcnn.errors import TexCompileError, TexEngineMissing
from symcnn.numeric.values import random_values
from symcnn.render.printers import SymcnnLatexPrinter
from symcnn.sheet import compile as tex_compile
from symcnn.sheet.build import sheet_tex
from symcnn.sheet.figures import receptive_field
from symcnn.sheet.i18n import LANGUAGES, SOURCE, language
from symcnn.sheet.options import SheetOptions
from symcnn.sheet.tex import environment

ROOT = Path(__file__).resolve().parent.parent

#: The words of each language's small sheet: a title of its own and catalogue messages.
TITLES = {
    "en": "Backpropagation",
    "es": "Retropropagación",
    "vi": "Lan truyền ngược",
    "ru": "Обратное распространение",
    "zh": "反向传播",
    "fr": "Rétropropagation",
}
SMALL = r"""\BLOCK{include "preamble.tex.j2"}
\begin{document}
\section{\VAR{title}}
\VAR{kind_title("conv2d")}, \VAR{kind_title("maxpool2d")}, \VAR{kind_title("avgpool2d")},
\VAR{kind_title("dense")}: $\delta^{(1)}_{11} = 0.25$, \texttt{0.weight}.
\begin{figure}[h]\centering
\VAR{figure}
\caption{\VAR{kind_title("conv2d")}}
\end{figure}
\end{document}
"""


def needs(lang: str) -> None:
    """Skip, naming the Debian packages, when this machine cannot typeset ``lang``."""
    missing = tex_compile.missing_packages(lang)
    if missing:
        pytest.skip(f"{lang} needs {' '.join(missing)}: scripts/bootstrap installs them as root")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")


def small_sheet(lang: str) -> str:
    """A page in ``lang``: its preamble, a title, the kinds' names and a figure (a sheet's
    parts that are translated today; the lead's templates bring the prose)."""
    d = derive(MaxPool2d(window=2, stride=1, input=(3, 3)))
    figure, _ = receptive_field(d.layers[0], SymcnnLatexPrinter(d.table), lang)
    return (
        environment(lang)
        .from_string(SMALL)
        .render(lang=language(lang), max_matrix_cols=0, title=TITLES[lang], figure=figure)
    )


@pytest.mark.tex
@pytest.mark.parametrize("lang", LANGUAGES)
def test_small_sheet_compiles_in_its_script(lang: str, tmp_path: Path) -> None:
    needs(lang)
    compiled = tex_compile.run_tex(small_sheet(lang), timeout=120)
    assert compiled.engine == LANGUAGES[lang].engine
    assert "Missing character" not in compiled.log
    assert "No hyphenation patterns were loaded" not in compiled.log
    text = pdf_text(compiled.pdf, tmp_path)
    assert SCRIPTS[lang].search(text), text
    assert TITLES[lang] in text
    if lang != SOURCE:  # the catalogue's words reached the PDF
        for msgid in ["max pooling", "average pooling"]:
            assert translated(lang, msgid) in text
        assert translated(lang, "input %(name)s") % {"name": "a"} in text.replace("\n", " ")


@pytest.mark.tex
def test_a_glyph_missing_from_the_font_is_an_error() -> None:
    """XeLaTeX typesets nothing for a character its font lacks, and goes on: symcnn refuses
    the PDF and names the character and the font."""
    needs("es")
    tex = small_sheet("es").replace(TITLES["es"], "Retropropagación — Обратное")
    with pytest.raises(TexCompileError) as err:
        tex_compile.compile_pdf(tex)
    message = str(err.value)
    assert "the font lmroman12-bold has no glyph for О (U+041E)" in message  # the heading
    assert re.search(r"\(and \d+ more missing characters\)", message)


def test_a_missing_engine_names_its_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(TexEngineMissing, match=r"\(xelatex, .*apt-get install texlive-xetex"):
        tex_compile.compile_pdf("% !TEX program = xelatex\n\\documentclass{article}")
    assert tex_compile.missing_packages("ru")[0] == "texlive-xetex"


def test_missing_fonts_and_packages_name_their_debian_packages() -> None:
    log = (
        '! Package fontspec Error: The font "CMU Typewriter Text" cannot be found.\n'
        "! LaTeX Error: File `ctex.sty' not found.\n"
        '! Package fontspec Error: The font "lmroman10-regular" cannot be found.\n'
    )
    assert tex_compile._packages_for(log) == ["fonts-cmu", "texlive-lang-chinese", "fonts-lmodern"]
    assert tex_compile._packages_for("! Undefined control sequence.") == []


@pytest.mark.parametrize(
    ("first", "engine"),
    [
        ("% !TEX program = xelatex", "xelatex"),
        ("% !TeX TS-program = LuaLaTeX", "lualatex"),
        ("%!TEX program=pdflatex", "pdflatex"),
        ("% a comment", "pdflatex"),
        (r"\documentclass{article}", "pdflatex"),
    ],
)
def test_engine_of_reads_the_magic_comment(first: str, engine: str) -> None:
    assert tex_compile.engine_of(first + "\n\\documentclass{article}\n") == engine


def test_an_unknown_engine_is_refused() -> None:
    with pytest.raises(TexCompileError, match="asks for the TeX program 'context'"):
        tex_compile.engine_of("% !TEX program = context\n")


# --- whole sheets -------------------------------------------------------------------------


def _sheets(lang: str) -> list[str]:
    """A lone layer's and a network's sheet with numbers, in ``lang``."""
    pool = derive(MaxPool2d(window=2, input=(4, 4)))
    net = preset("seed003").derive()
    return [
        sheet_tex(pool, SheetOptions(values=random_values(pool.network, 5), lang=lang)),
        sheet_tex(net, SheetOptions(values=random_values(net.network, 3), lang=lang)),
    ]


def test_formulas_and_numbers_are_the_same_in_every_language() -> None:
    english = [maths(tex) for tex in _sheets(SOURCE)]
    assert all(len(pieces) > 50 for pieces in english)
    for lang in LANGUAGES:
        assert [maths(tex) for tex in _sheets(lang)] == english, lang


@pytest.mark.tex
@pytest.mark.parametrize("lang", [code for code in LANGUAGES if code != SOURCE])
def test_sheets_compile_in_the_language_asked_for(lang: str, tmp_path: Path) -> None:
    pool, net = _sheets(lang)
    assert pool.splitlines()[0] == f"% !TEX program = {LANGUAGES[lang].engine}"
    needs(lang)
    for tex in (pool, net):
        text = pdf_text(tex_compile.compile_pdf(tex), tmp_path)
        assert SCRIPTS[lang].search(text)
        if tex is pool:  # a figure's title
            assert translated(lang, "input %(name)s").replace("%(name)s", "").strip() in text


@pytest.mark.subprocess
def test_cli_writes_the_tex_when_the_engine_is_missing(tmp_path: Path) -> None:
    """Without the language's engine: exit 1, the packages named, the .tex written."""
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "symcnn", "sheet", "sigmoid", "--input", "2", "--lang", "ru",
         "--pdf", "-o", "s.tex"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT), "PATH": str(tmp_path)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "no TeX engine found" in proc.stderr and "apt-get install" in proc.stderr
    assert "s.tex" in proc.stderr
    assert (tmp_path / "s.tex").read_text().rstrip().endswith(r"\end{document}")
