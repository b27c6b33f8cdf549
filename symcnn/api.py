"""The public face: `derive`, and `Network` and `Derivation` with their printing and number methods.

The stages below this module know nothing of each other's outputs (a derivation imports no
printer); the methods users expect on the objects they hold (``.text()``, ``.to_json()``,
``.numeric()``, ``.derive()``) are defined here, on thin subclasses of the stages' classes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .core.shapes import DEFAULT_MAX_TERMS, check_index_base
from .derivation import derived
from .document.build import document
from .errors import SpecError, ValuesError
from .graph import files, presets
from .graph import network as graph
from .kinds.base import Layer
from .numeric.engine import Engine, Gradients, Run
from .numeric.values import Values, check_values, random_values
from .render import json, latex, notebook, text
from .render.text import run_text
from .sheet.build import sheet_tex
from .sheet.compile import DEFAULT_TIMEOUT, compile_pdf
from .sheet.i18n import language, translations
from .sheet.options import SheetOptions


class Derivation(derived.Derivation):
    """What `derive` returns: the derivation, with its text, LaTeX, JSON and numbers.

    Example:
        >>> from symcnn import Conv2d
        >>> d = derive(Conv2d(kernel=2, bias="untied", input=(3, 3)))
        >>> d.all_proven, d.text().splitlines()[0]
        (True, 'conv2d: input 1x3x3, kernel 2x2, 1 output channel(s), stride 1x1, padding 0x0, dilation 1x1, bias untied → output 1x2x2')
    """

    def text(self, unicode: bool = True, substitute: str | None = None) -> str:
        """The per-entry formulas as plain text, one line per entry (``--format text``).

        ``substitute`` (a network) adds every gradient with its δ replaced (``"deltas"``) or
        in the input, parameters and target only (``"all"``).
        """
        doc = document(self)
        if self.lone:
            if substitute:
                raise SpecError(
                    "--substitute applies to networks (--network FILE or --preset NAME)"
                )
            return text.lone_text(doc, unicode)
        return text.network_text(doc, unicode, substitute)

    def latex(self) -> str:
        """``align*`` blocks and bmatrix forms, ready to paste (``--format latex``)."""
        doc = document(self)
        return latex.lone_latex(doc) if self.lone else latex.network_latex(doc)

    def to_json(self, substitute: str | None = None) -> dict[str, Any]:
        """The JSON contract as a dict (see the README for its fields)."""
        doc = document(self)
        if self.lone:
            if substitute:
                raise SpecError(
                    "--substitute applies to networks (--network FILE or --preset NAME)"
                )
            return json.lone_json(doc)
        return json.network_json(doc, substitute)

    def numeric(self) -> Any:
        """The formulas compiled to NumPy: for a lone layer a function of its arrays
        (`symcnn.numeric.engine.Gradients`), for a network an `~symcnn.numeric.engine.Engine`
        with ``run`` and ``sgd``."""
        return Gradients(self) if self.lone else Engine(self)

    def evaluate(self, values: Any, delta_at: tuple[int, Any] | None = None) -> Run:
        """Numbers for every layer from the formulas (a network's ``--values`` dict or `Values`)."""
        return Engine(self).run(values, delta_at)

    def run_text(self, run: Run, unicode: bool = True) -> str:
        """A run as text, layer by layer (``symcnn run``)."""
        return run_text(self, run, unicode)

    def sheet(
        self,
        values: Values | Mapping[str, Any] | int | None = None,
        *,
        title: str | None = None,
        lang: str = "en",
        detail: str = "short",
        lr: float = 0.1,
    ) -> str:
        r"""The LaTeX derivation sheet (``symcnn sheet``), as the text of a .tex file.

        ``values`` adds a worked example: `Values`, the arrays a ``--values`` file holds
        (a dict), or a seed to draw them from (``--random``). ``lang`` is the language
        (en, es, vi, ru, zh, fr); its TeX engine is named on the first line. ``detail`` is
        ``short`` or ``full``; ``lr`` the learning rate of the SGD step.

        Example:
            >>> from symcnn import preset
            >>> tex = preset("seed003").derive().sheet(values=3)
            >>> tex.splitlines()[0], tex.rstrip().endswith(r"\end{document}")
            ('% !TEX program = pdflatex', True)
            >>> preset("seed003").derive().sheet(lang="de")
            Traceback (most recent call last):
            symcnn.errors.LanguageError: unknown language 'de'; choose one of en (English), es (español), vi (Tiếng Việt), ru (русский), zh (中文), fr (français)
        """
        return sheet_tex(self, self._sheet_options(values, title, lang, detail, lr))

    def pdf(
        self,
        values: Values | Mapping[str, Any] | int | None = None,
        *,
        title: str | None = None,
        lang: str = "en",
        detail: str = "short",
        lr: float = 0.1,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> bytes:
        """The derivation sheet compiled to PDF (the arguments of `sheet`), as bytes.

        Needs the TeX engine of the language (`symcnn.errors.TexEngineMissing` names the
        Debian packages otherwise); ``timeout`` stops the engine after so many seconds.

        Example:
            >>> from pathlib import Path
            >>> from symcnn import preset
            >>> pdf = preset("seed003").derive().pdf(values=3, lang="ru")  # doctest: +SKIP
            >>> Path("seed003-ru.pdf").write_bytes(pdf) > 0  # doctest: +SKIP
            True
        """
        tex = self.sheet(values, title=title, lang=lang, detail=detail, lr=lr)
        return compile_pdf(tex, timeout=timeout)

    def _sheet_options(
        self,
        values: Values | Mapping[str, Any] | int | None,
        title: str | None,
        lang: str,
        detail: str,
        lr: float,
    ) -> SheetOptions:
        """The options of a sheet, checked as the command line checks them."""
        if detail not in ("short", "full"):
            raise SpecError(f"detail must be 'short' or 'full', got {detail!r}")
        if not (isinstance(lr, int | float) and 0 < lr < math.inf):
            raise ValuesError(f"lr must be a positive number, got {lr!r}")
        options = SheetOptions(title=title, lr=float(lr), lang=language(lang).code)
        options.detail = detail  # type: ignore[assignment]
        if isinstance(values, bool):
            raise ValuesError("values must be Values, a dict of arrays or a seed, not a bool")
        if isinstance(values, int):
            options.values = random_values(self.network, values)
            # TRANSLATORS: where a sheet's numbers come from; %(seed)s is a whole number
            drawn = translations(options.lang).gettext("drawn at random with seed %(seed)s")
            options.values_source = drawn % {"seed": values}
        elif isinstance(values, Values):
            options.values = values
        elif values is not None:
            options.values = check_values(self.network, values, "values")
        return options

    def _repr_latex_(self) -> str:
        """Jupyter's view: a compact ``$$…$$`` block."""
        return notebook.notebook_latex(document(self))


class Network(graph.Network):
    """A network of layers ending in a loss, which `derive` differentiates.

    Example:
        >>> from symcnn import Conv2d, Sigmoid
        >>> net = Network([Conv2d(kernel=2, bias="untied"), Sigmoid()], input=(1, 3, 3))
        >>> net.derive().layers[0].delta[0, 0, 0].sympy()
        d1_11*(1 - sigmoid(z0_11))*sigmoid(z0_11)
    """

    def derive(self, prove: bool = True) -> Derivation:
        """Every layer's forward terms, δ links and parameter gradients (see `derive`)."""
        return derive(self, prove=prove)


def derive(
    x: Layer | graph.Network,
    *,
    prove: bool = True,
    index_base: int | None = None,
    max_terms: int = DEFAULT_MAX_TERMS,
    batch: int | None = None,
) -> Derivation:
    """Derive a lone layer (its δ given) or a network (its δ from the loss).

    Forward expressions → the chain rule, layer by layer → the closed matrix forms, proven
    exactly. ``index_base`` (0 or 1) is the first index of the symbol names; a network's own
    applies when it is None. ``batch`` derives a lone layer on a mini-batch of that many
    samples (a network has its own).

    Example:
        >>> from symcnn import Conv2d
        >>> d = derive(Conv2d(kernel=2, input=(3, 3)), index_base=0)
        >>> str(d.gradient("weight")[0, 0, 0, 0])
        'a_00*d_00 + a_01*d_01 + a_10*d_10 + a_11*d_11'
    """
    if isinstance(x, Layer):
        network = graph.Network.of(
            x, check_index_base(1 if index_base is None else index_base), max_terms, batch
        )
    elif isinstance(x, graph.Network):
        network = x
        if batch is not None:
            raise SpecError("a network has its own batch: set batch in the network")
        if index_base is not None and check_index_base(index_base) != x.index_base:
            network = x.replaced(index_base=index_base)
    else:
        raise SpecError(f"derive takes a layer or a Network, not {type(x).__name__}")
    return derived.derive(network, prove, cls=Derivation)


def parse_network(
    text: str, source: str = "<network>", max_terms: int = DEFAULT_MAX_TERMS
) -> Network:
    """A `Network` from the text of a network file (TOML); errors name the line.

    Example:
        >>> parse_network('input = [4]\\n[[layer]]\\ntype = "sigmoid"\\n').describe()
        'input 4 → 0 sigmoid 4 → loss mse'
    """
    net = files.parse_network(text, source, max_terms, cls=Network)
    assert isinstance(net, Network)
    return net


def load_network(path: str | Path, max_terms: int = DEFAULT_MAX_TERMS) -> Network:
    """A `Network` from a network file (TOML).

    Example:
        >>> load_network("no/such/file.toml")
        Traceback (most recent call last):
        symcnn.errors.SymcnnError: no/such/file.toml: no such file
    """
    net = files.load_network(path, max_terms, cls=Network)
    assert isinstance(net, Network)
    return net


def preset(name: str) -> Network:
    """A built-in network (see ``symcnn presets``).

    Example:
        >>> preset("seed003").describe()
        'input 1x3x3 → 0 conv2d 1x2x2 → 1 sigmoid 1x2x2 → loss mse'
    """
    net = presets.preset(name, cls=Network)
    assert isinstance(net, Network)
    return net


__all__ = ["Derivation", "Network", "derive", "load_network", "parse_network", "preset"]
