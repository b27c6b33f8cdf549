"""Sheets in six languages: the catalogues are complete and compiled, the gettext wiring of
the templates (trans blocks, plurals, escaping), translated figures, the options."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.frontend import parse_mapping_cfg
from i18n_support import (
    LOCALE,
    ROOT,
    Catalogue,
    add_language,
    catalogs,
    fresh_environments,  # noqa: F401  (a fixture the tests use)
    maths,
    translated,
    words_left,
)

from symcnn import AvgPool2d, Conv2d, MaxPool2d, derive, preset
from symcnn.cli import main
from symcnn.errors import LanguageError, ValuesError
from symcnn.kinds.registry import LAYERS
from symcnn.render.printers import SymcnnLatexPrinter
from symcnn.sheet import figures
from symcnn.sheet.i18n import LANGUAGES, SOURCE, kind_title, translations
from symcnn.sheet.tex import environment, render

OTHERS = [code for code in LANGUAGES if code != SOURCE]


# --- the languages ------------------------------------------------------------------------


def test_an_unknown_language_is_one_line_naming_every_language() -> None:
    with pytest.raises(LanguageError) as err:
        translations("de")
    message = str(err.value)
    assert "\n" not in message and "'de'" in message
    for code, native in [("es", "español"), ("vi", "Tiếng Việt"), ("ru", "русский"),
                         ("zh", "中文"), ("fr", "français"), ("en", "English")]:  # fmt: skip
        assert f"{code} ({native})" in message


def test_the_seed_languages_and_their_engines() -> None:
    """The seeds' languages (000 to 004) and English; XeLaTeX wherever fonts need OpenType."""
    assert list(LANGUAGES) == ["en", "es", "vi", "ru", "zh", "fr"]
    assert {code: lang.engine for code, lang in LANGUAGES.items()} == {
        "en": "pdflatex", "es": "xelatex", "vi": "xelatex", "ru": "xelatex", "zh": "xelatex",
        "fr": "xelatex",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("lang", "lines"),
    [
        ("en", ["% !TEX program = pdflatex"]),
        ("es", ["% !TEX program = xelatex", r"\setdefaultlanguage[spanishoperators=none]{spanish}"]),
        ("vi", ["% !TEX program = xelatex", r"\setdefaultlanguage[]{vietnamese}"]),
        ("ru", ["% !TEX program = xelatex", r"\setmainfont{CMU Serif}",
                r"\setdefaultlanguage[mathfunctions=false]{russian}"]),
        ("zh", ["% !TEX program = xelatex", r"\usepackage[UTF8,fontset=fandol]{ctex}"]),
        ("fr", ["% !TEX program = xelatex", r"\setdefaultlanguage[]{french}"]),
    ],
)  # fmt: skip
def test_preamble_names_the_engine_first_then_sets_the_language(lang: str, lines) -> None:
    tex = render("preamble.tex.j2", lang=lang, max_matrix_cols=0)
    assert tex.splitlines()[0] == lines[0]
    for line in lines[1:]:
        assert line in tex.splitlines()
    assert (r"\usepackage[no-math]{fontspec}" in tex) == (lang != "en")
    # the packages and styles every sheet had before stay
    for kept in [r"\usepackage{tikz}", r"\usepackage{microtype}", "win/.style", r"\fitmath"]:
        assert kept in tex


def test_sheet_starts_with_the_engine_line() -> None:
    tex = derive(Conv2d(kernel=2, input=(3, 3))).sheet()
    assert tex.startswith("% !TEX program = pdflatex\n% Derivation sheet written by symcnn")


# --- the catalogues -----------------------------------------------------------------------


def test_catalogues_are_complete_and_compiled() -> None:
    """``scripts/catalogs check``: no message missing, fuzzy or untranslated in any language,
    no broken placeholder, every .mo compiled from its .po, the .pot up to date."""
    assert catalogs().problems() == []


@pytest.mark.parametrize("lang", OTHERS)
def test_each_mo_is_compiled_from_its_po(lang: str) -> None:
    module = catalogs()
    from babel.messages.pofile import read_po

    with module.po_path(lang).open("rb") as f:
        assert module.stale_mo(lang, read_po(f)) == []


@pytest.fixture
def locale_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The catalogues copied to a scratch folder that ``catalogs`` checks instead."""
    module = catalogs()
    copy = tmp_path / "locale"
    shutil.copytree(LOCALE, copy)
    monkeypatch.setattr(module, "LOCALE", copy)
    monkeypatch.setattr(module, "POT", copy / "symcnn.pot")
    return module, copy


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_catalogue_check_names_every_problem(locale_copy) -> None:
    module, copy = locale_copy
    po = {lang: copy / lang / "LC_MESSAGES" / "symcnn.po" for lang in OTHERS}
    _edit(po["ru"], 'msgstr "вход %(name)s"', 'msgstr ""')
    _edit(po["fr"], 'msgid "output %(name)s"', '#, fuzzy\nmsgid "output %(name)s"')
    _edit(po["es"], 'msgid "backward"\nmsgstr "atrás"\n', "")
    _edit(po["zh"], 'msgstr "输入 %(name)s"', 'msgstr "输入 %(nom)s"')
    _edit(po["vi"], 'msgstr "lỗi %(name)s"', 'msgstr "lỗi 50% %(name)s"')
    found = "\n".join(module.problems())
    assert "ru/LC_MESSAGES/symcnn.po: untranslated 'input %(name)s'" in found
    assert "fr/LC_MESSAGES/symcnn.po: fuzzy 'output %(name)s'" in found
    assert "es/LC_MESSAGES/symcnn.po: missing 'backward'" in found
    assert "zh/LC_MESSAGES/symcnn.po: 'input %(name)s'" in found and "nom" in found
    assert "vi/LC_MESSAGES/symcnn.po: 'error %(name)s': a bare % (a LaTeX comment)" in found
    for lang in OTHERS:  # every .po changed, none recompiled
        assert f"{lang}/LC_MESSAGES/symcnn.mo is out of date with its .po" in found


def test_catalogue_check_finds_a_stale_template(locale_copy) -> None:
    module, copy = locale_copy
    _edit(copy / "symcnn.pot", 'msgid "backward"', 'msgid "backwards"')
    assert any("symcnn.pot is out of date" in line for line in module.problems())


@pytest.mark.subprocess
def test_catalogue_check_runs_as_a_script() -> None:
    """``scripts/catalogs check`` itself: exit 0 and the count of messages."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "catalogs"), "check"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "all translated in es, vi, ru, zh, fr" in proc.stdout


# --- templates: what Babel extracts is what the template asks gettext for -----------------

#: A trans block that ends a line eats its newline (trim_blocks, as every block tag does):
#: ``\BLOCK{endtrans +}`` keeps it (or leave a blank line for a paragraph break).
TEMPLATE = r"""\section{\VAR{_("max pooling")}}
\BLOCK{trans n=k}Layer \VAR{n} keeps 50\% of
  \emph{its} input.\BLOCK{endtrans +}
\BLOCK{trans count=k}one entry\BLOCK{pluralize}\VAR{count} entries\BLOCK{endtrans +}
\BLOCK{trans name=title, sym=symbol}Sheet \VAR{name} for $\VAR{sym}$\BLOCK{endtrans}
"""


def _extract(template: Path) -> set[object]:
    """The messages Babel extracts from a template, with babel.cfg's options."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    pattern = next(p for p, _ in method_map if p.endswith(".tex.j2"))
    found = extract_from_file(
        "jinja2.ext:babel_extract", str(template), options=options_map[pattern]
    )
    return {message for _, message, _, _ in found}


@pytest.mark.usefixtures("fresh_environments")
def test_trans_blocks_extract_and_render_with_percent_and_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = tmp_path / "t.tex.j2"
    template.write_text(TEMPLATE, encoding="utf-8")
    keeps = r"Layer %(n)s keeps 50\%% of \emph{its} input."
    entries = ("one entry", "%(count)s entries")
    sheet = "Sheet %(name)s for $%(sym)s$"
    assert _extract(template) == {"max pooling", keeps, entries, sheet}
    # a catalogue keyed by exactly those messages: the rendering finds every one
    table = {
        "max pooling": "макс-пулинг",
        keeps: r"Слой %(n)s сохраняет 50\%% \emph{своего} входа.",
        entries: ("%(count)s элемент", "%(count)s элементов"),
        sheet: "Лист %(name)s для $%(sym)s$",
    }
    add_language(monkeypatch, "xx", Catalogue(table))
    from symcnn.render.tex import Tex

    text = environment("xx").from_string(TEMPLATE)
    out = text.render(k=1, title="50% & Ж_1", symbol=Tex(r"\delta^{(1)}"))
    assert out.splitlines() == [
        r"\section{макс-пулинг}",
        r"Слой 1 сохраняет 50\% \emph{своего} входа.",
        "1 элемент",
        r"Лист 50\% \& Ж\texttt{\char95}1 для $\delta^{(1)}$",
    ]
    assert "5 элементов" in text.render(k=5, title="", symbol=Tex("x"))


def test_a_trans_block_ending_a_line_eats_the_newline() -> None:
    env = environment("en")
    eaten = env.from_string("\\BLOCK{trans}One.\\BLOCK{endtrans}\nTwo.\n").render()
    kept = env.from_string("\\BLOCK{trans}One.\\BLOCK{endtrans +}\nTwo.\n").render()
    assert (eaten, kept) == ("One.Two.\n", "One.\nTwo.\n")


def test_english_renders_the_messages_themselves() -> None:
    out = environment("en").from_string(TEMPLATE).render(k=2, title="ж", symbol="$")
    assert out.splitlines() == [
        r"\section{max pooling}",
        r"Layer 2 keeps 50\% of \emph{its} input.",
        "2 entries",
        r"Sheet ? for $\$$",
    ]


def test_kind_titles_are_in_every_catalogue() -> None:
    for kind, cls in LAYERS.items():
        assert kind_title(kind) == cls.title
        for lang in OTHERS:
            assert kind_title(kind, lang) == translated(lang, cls.title)
    assert kind_title(MaxPool2d(window=2, input=(4, 4)), "zh") == "最大池化"
    rendered = environment("vi").from_string(r"\VAR{kind_title('avgpool2d')}").render()
    assert rendered == translated("vi", "average pooling") == "gộp trung bình"


# --- figures ------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_figure_words_come_from_the_catalogue(lang: str) -> None:
    def word(msgid: str, name: str = "") -> str:
        text = msgid if lang == SOURCE else translated(lang, msgid)
        return text % {"name": name} if "%(name)s" in text else text

    d = derive(Conv2d(kernel=2, input=(3, 3)))
    p = SymcnnLatexPrinter(d.table)
    field, _ = figures.receptive_field(d.layers[0], p, lang)
    assert "{" + word("input %(name)s", "$a$") + "}" in field
    assert "{" + word("output %(name)s", "$z$") + "}" in field
    weight, _ = figures.weight_cells(d.layers[0], p, lang)
    assert "{" + word("error %(name)s", r"$\delta$") + "}" in weight
    pool = derive(MaxPool2d(window=2, input=(4, 4)))
    routing = figures.figures(pool.layers[0], SymcnnLatexPrinter(pool.table), None, 0, lang)
    assert "{" + word("backward") + "};" in routing["routing"]


def test_figures_have_the_same_maths_in_every_language() -> None:
    """Only the words of a figure change with the language: every number and symbol stays."""
    d = derive(AvgPool2d(window=2, stride=1, input=(2, 3, 3)))
    p = SymcnnLatexPrinter(d.table)
    english = figures.receptive_field(d.layers[0], p)[0]
    for lang in OTHERS:
        other = figures.receptive_field(d.layers[0], p, lang)[0]
        assert other != english
        assert maths(r"\begin{document}" + other) == maths(r"\begin{document}" + english)
        assert len(maths(r"\begin{document}" + english)) == 9 + 4 + 2  # cells and titles


# --- choosing the language: command line, gallery, API -----------------------------------


def test_cli_rejects_an_unknown_language_in_one_line(capsys) -> None:
    assert main(["sheet", "--preset", "seed003", "--lang", "xx", "-o", "-"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown language 'xx'" in err and "ru (русский)" in err


@pytest.mark.parametrize("argv", [["--preset", "seed003"], ["sigmoid", "--input", "3"]])
def test_cli_passes_the_language_to_the_sheet(argv, monkeypatch, capsys) -> None:
    seen = []
    monkeypatch.setattr("symcnn.cli.sheet.sheet_tex", lambda d, o: seen.append(o.lang) or "x")
    assert main(["sheet", *argv, "--lang", "zh", "-o", "-"]) == 0
    assert seen == ["zh"] and capsys.readouterr().out == "x"


def test_gallery_entries_carry_their_language(tmp_path: Path, monkeypatch) -> None:
    from symcnn import gallery

    toml = tmp_path / "gallery.toml"
    toml.write_text(
        '[[sheet]]\nname = "a"\ntitle = "Сеть"\npreset = "seed003"\nlang = "ru"\n'
        '[[sheet]]\nname = "b"\ntitle = "t"\npreset = "seed003"\n',
        encoding="utf-8",
    )
    a, b = gallery.entries(toml)
    assert (a.lang, b.lang) == ("ru", "en")
    seen = []
    monkeypatch.setattr(gallery, "sheet_tex", lambda d, o: seen.append((o.title, o.lang)))
    gallery.render(a)
    assert seen == [("Сеть", "ru")]
    toml.write_text('[[sheet]]\nname = "c"\ntitle = "t"\npreset = "seed003"\nlang = "xx"\n')
    with pytest.raises(LanguageError, match=r"gallery\.toml: sheet 'c': unknown language 'xx'"):
        gallery.entries(toml)


def test_api_sheet_options_are_checked() -> None:
    d = preset("seed003").derive()
    with pytest.raises(LanguageError):
        d.sheet(lang="xx")
    with pytest.raises(ValueError, match="detail must be 'short' or 'full'"):
        d.sheet(detail="long")
    with pytest.raises(ValuesError, match="lr must be a positive number"):
        d.sheet(lr=float("nan"))
    with pytest.raises(ValuesError, match="not a bool"):
        d.sheet(values=True)


def test_api_sheet_passes_its_options(monkeypatch) -> None:
    d = preset("seed003").derive()
    seen = []
    monkeypatch.setattr("symcnn.api.sheet_tex", lambda d, o: seen.append(o) or "tex")
    assert d.sheet(values=3, title="T", lang="fr", detail="full", lr=0.5) == "tex"
    (o,) = seen
    assert (o.title, o.lang, o.detail, o.lr) == ("T", "fr", "full", 0.5)
    assert o.values_source == translated("fr", "drawn at random with seed %(seed)s") % {"seed": 3}
    assert o.values is not None and o.values.target is not None


def test_api_sheet_with_values_from_a_dict() -> None:
    """A lone layer's numbers as a --values file gives them: the worked example shows them."""
    d = derive(AvgPool2d(window=2, input=(4, 4)))
    numbers = {"input": [[float(i) for i in range(r, r + 4)] for r in (1, 5, 9, 13)],
               "delta": [[1.0, 2.0], [8.0, 4.0]]}  # fmt: skip
    tex = d.sheet(values=numbers)
    assert "Worked example with numbers" in tex and "13.5" in tex  # seed 003's average


def test_leak_finder_sees_english_and_nothing_else() -> None:
    """The reader the pseudo-language test relies on (tests/test_i18n_pseudo.py)."""
    tex = (
        r"\begin{document}⟪Layer⟫ 1 \texttt{0.weight} $a_{11}$ \fitmath{x \text{if}} "
        r"\begin{align*} z &= w \end{align*} leak \emph{⟪ok⟫} \label{fig:a} Figure~\ref{x}"
        "\n\\begin{tikzpicture}\\draw[cell] (0,0) rectangle (1,1) node[midway, font=\\tiny] "
        "{$a$};\\node[anchor=south] at (1,2) {input $a$};\\end{tikzpicture} % a comment\n"
    )
    assert words_left(tex) == ["leak", "Figure", "input"]
