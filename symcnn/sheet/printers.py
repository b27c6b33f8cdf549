"""LaTeX printers of sheets: index formulas in the seeds' notation, numbers substituted, matrix cells."""

from __future__ import annotations

import math
from typing import Any

import sympy
from sympy import Indexed

from ..core import indexed as ix
from ..core.symbols import SymbolTable, with_channels
from ..render.printers import SymcnnLatexPrinter, _split_factors, tfrac

_NAMES = {
    "H_out": r"H_{\mathrm{out}}",
    "W_out": r"W_{\mathrm{out}}",
    "N_in": r"N_{\mathrm{in}}",
    "N_out": r"N_{\mathrm{out}}",
}
_BASES = {"delta": r"\delta", "mu": r"\mu", "omega": r"\omega", "epsilon": r"\epsilon"}


class IndexedLatexPrinter(SymcnnLatexPrinter):
    r"""Prints the general index formulas of `symcnn.indexed` in the seeds' notation.

    ``Indexed`` as ``a_{i+m-1,\,j+n-1}``, ``KroneckerDelta`` as the Iverson bracket
    ``[m = m']`` (δ is taken: it is ∂E/∂z), nested ``\sum`` signs, ``∂E/∂z`` fractions,
    δ first in products and positive terms first in sums (``u - i + 1``). ``bases`` renames
    tensors (``{"a": "x", "delta": r"\\delta^{(0)}"}``): a layer of a network prints its
    formulas with the network's names.

    Example:
        >>> from sympy import IndexedBase, symbols, KroneckerDelta
        >>> i, m = symbols("i m", integer=True)
        >>> p = IndexedLatexPrinter(SymbolTable([]))
        >>> p.doprint(KroneckerDelta(i, m) * IndexedBase("a")[i - m + 1])
        '\\left[i = m\\right] a_{i - m + 1}'
    """

    def __init__(self, table: SymbolTable, bases: dict[str, str] | None = None) -> None:
        super().__init__(table)
        self.bases = {**_BASES, **(bases or {})}

    def _print_Symbol(self, expr: sympy.Symbol, style: str = "plain") -> str:
        name = str(expr)
        if name in self.bases:
            return self.bases[name]
        if name in _NAMES:
            return _NAMES[name]
        if self.table.get(name) is not None:
            return self.symbol(expr)
        return super()._print_Symbol(expr, style)

    def _print_IndexedBase(self, expr: sympy.IndexedBase) -> str:
        return self.bases.get(str(expr.label), str(expr.label))

    def _print_KroneckerDelta(self, expr: sympy.KroneckerDelta, exp: Any = None) -> str:
        a, b = (self._print(x) for x in expr.args)
        return rf"\left[{a} = {b}\right]"

    def _print_Sum(self, expr: sympy.Sum) -> str:
        # finite sums commute: the samples' first, as the entries name the sample first
        limits = sorted(expr.limits, key=lambda lim: lim[0] not in _SAMPLES)
        signs = "".join(
            rf"\sum_{{{self._print(v)}={self._print(lo)}}}^{{{self._print(hi)}}} "
            for v, lo, hi in limits
        )
        body = self._print(expr.function)
        if isinstance(expr.function, sympy.Add):
            body = rf"\left({body}\right)"
        return signs + body

    def _print_Derivative(self, expr: sympy.Derivative) -> str:
        (x, count), *rest = expr.variable_count
        if rest or count != 1:
            return super()._print_Derivative(expr)
        f = expr.expr
        if isinstance(f, (sympy.Symbol, Indexed)):
            return rf"\frac{{\partial {self._print(f)}}}{{\partial {self._print(x)}}}"
        if isinstance(f, sympy.core.function.AppliedUndef) and f.args == (x,):
            return rf"{self._print(f.func)}'\!\left({self._print(x)}\right)"
        return rf"\frac{{\partial}}{{\partial {self._print(x)}}}\left({self._print(f)}\right)"

    def _print_Function(self, expr: Any, exp: Any = None) -> str:
        if isinstance(expr, sympy.core.function.AppliedUndef) and len(expr.args) == 1:
            return rf"{self._print(expr.func)}\!\left({self._print(expr.args[0])}\right)"
        return super()._print_Function(expr, exp)

    def _as_ordered_terms(self, expr: Any, order: Any = None) -> list[Any]:
        terms = list(expr.as_ordered_terms()) if isinstance(expr, sympy.Add) else [expr]
        numbers = [t for t in terms if t.is_Number]
        rest = [t for t in terms if not t.is_Number]
        pos = [t for t in rest if not t.could_extract_minus_sign()]
        neg = [t for t in rest if t.could_extract_minus_sign()]
        return pos + neg + numbers if pos else numbers + neg

    def _print_Mul(self, expr: sympy.Mul) -> str:
        args = list(expr.args)
        over = [f for f in args if f.is_Pow and f.exp == -1 and f.base in ix.SIZES]
        sums = [f for f in args if isinstance(f, sympy.Sum)]
        if len(args) == 2 and over and sums:  # a mean: 1/M Σ …
            return rf"\frac{{1}}{{{self._print(over[0].base)}}} {self._print(sums[0])}"
        fraction = any(f.is_Pow and f.exp.is_negative for f in args)
        if fraction or not any(f.has(Indexed) or isinstance(f, sympy.KroneckerDelta) for f in args):
            return super()._print_Mul(expr)
        coeff = [f for f in args if f.is_Number]
        if len(args) == 2 and isinstance(args[1], sympy.Sum) and coeff == [args[0]]:
            return rf"{self._print(args[0])} {self._print(args[1])}"  # ½ Σ …, as the seeds
        rest = sorted((f for f in args if not f.is_Number), key=_factor_rank)
        parts = [self._print(f) if _atomic(f) else rf"\left({self._print(f)}\right)" for f in rest]
        if coeff and coeff != [sympy.Integer(-1)]:
            parts.insert(0, self._print(sympy.Mul(*coeff)))
        text = " ".join(parts)
        return "-" + text if coeff == [sympy.Integer(-1)] else text

    def _print_Indexed(self, expr: Indexed) -> str:
        """``a_{i+m-1,\\,j+n-1}``; leading channel indices go to the superscript, as the
        entries are named: ``w^{(o,c)}_{m,\\,n}``; the sample of a mini-batch first, before a
        semicolon: ``x^{(c)}_{s;\\,i,\\,j}``."""
        indices = list(expr.indices)
        sample = ""
        if len(indices) > 1 and indices[0].free_symbols and indices[0].free_symbols <= _SAMPLES:
            sample = self._index(indices.pop(0)) + r";\,"
        lead = 0
        while lead < len(indices) - 1 and indices[lead].free_symbols <= _CHANNELS:
            lead += 1
        stem = self._print(expr.base)
        if lead:
            stem = with_channels(stem, ",".join(self._index(i) for i in indices[:lead]))
        rest = r",\,".join(self._index(i) for i in indices[lead:])
        return f"{stem}_{{{sample}{rest}}}"

    def _index(self, idx: sympy.Expr) -> str:
        """An index; one with fractional coefficients (dilation) as ``(u - i)/2``."""
        num, den = sympy.fraction(sympy.together(idx))
        if den == 1:
            return self._print(idx)
        return f"({self._print(sympy.expand(num))})/{self._print(den)}"


#: Index symbols that number channels (printed as a superscript).
_CHANNELS = frozenset({ix.C_, ix.O_, ix.primed(ix.C_), ix.primed(ix.O_)})
#: Index symbols that number the samples of a mini-batch (printed first, before ``;``).
_SAMPLES = frozenset({ix.S_, ix.primed(ix.S_)})

_RANK = {"delta": 0, "dxhat": 0, "dvar": 0, "dmean": 0, "w": 2, "omega": 2, "mu": 2, "a": 3}


def _factor_rank(f: sympy.Basic) -> int:
    """δ first, then Iverson brackets, kernel-like tensors, the input, functions, sums (σ(1 − σ))."""
    if isinstance(f, Indexed):
        return _RANK.get(str(f.base), 4)
    if isinstance(f, sympy.KroneckerDelta):
        return 1
    return 5 if isinstance(f, sympy.Add) else 4


def _atomic(f: sympy.Basic) -> bool:
    applied = isinstance(f, sympy.Function) and not isinstance(f, sympy.Piecewise)
    return applied or isinstance(f, (Indexed, sympy.Symbol, sympy.Derivative))


class CompactLatexPrinter(SymcnnLatexPrinter):
    r"""For matrix cells: a max-pool bracket names its window by the output it produced.

    ``\left[a_{12} = \operatorname{argmax}(a_{11}, a_{12}, a_{21}, a_{22})\right]`` becomes
    ``\left[a_{12} \to z_{11}\right]``: "a_{12} is the cell whose value z_{11} takes".
    """

    def __init__(self, table: SymbolTable, windows: dict[tuple[str, ...], str]) -> None:
        super().__init__(table)
        self.windows = windows

    def _print_IsFirstMax(self, expr: Any, exp: Any = None) -> str:
        name = self.windows.get(tuple(str(a) for a in expr.window))
        if name is None:
            return super()._print_IsFirstMax(expr, exp)
        return rf"\left[{self._print(expr.winner)} \to {name}\right]"


#: Significant digits of a computed number on a sheet (given numbers keep up to `GIVEN`).
DIGITS = 5
GIVEN = 6


def fmt_number(x: float, digits: int = DIGITS) -> str:
    """A number as LaTeX, at most ``digits`` significant digits, no float noise: ``-0.23``.

    Example:
        >>> fmt_number(0.1 + 0.2), fmt_number(-1e-17), fmt_number(2.5e-7), fmt_number(2 / 3)
        ('0.3', '0', '2.5 \\\\times 10^{-7}', '0.66667')
    """
    if not math.isfinite(x):
        return r"\infty" if x > 0 else (r"-\infty" if x < 0 else r"\mathrm{NaN}")
    if abs(x) < 1e-12:
        return "0"
    text = f"{x:.{digits}g}"
    if "e" in text:
        mant, exp = text.split("e")
        return rf"{mant} \times 10^{{{int(exp)}}}"
    return text


class NumberLatexPrinter(SymcnnLatexPrinter):
    r"""The same layout as `SymcnnLatexPrinter`, every known symbol replaced by its number.

    Negative numbers get parentheses and products an explicit ``\cdot``, as in a hand
    calculation: ``a_{11} w_{11}`` becomes ``0.5 \cdot (-1)``.
    """

    def __init__(
        self, table: SymbolTable, values: dict[str, float], given: frozenset[str] = frozenset()
    ) -> None:
        super().__init__(table)
        self.values = values
        self.given = given  # names of given numbers, written with up to `GIVEN` digits

    def symbol(self, sym: Any) -> str:
        name = str(sym)
        if name not in self.values:
            return super().symbol(sym)
        return fmt_number(self.values[name], GIVEN if name in self.given else DIGITS)

    def _print_Add(self, expr: Any, order: Any = None) -> str:
        r"""A sum as SymPy writes it, a negative number after ``+`` or ``-`` in brackets:
        ``x - \mu`` at μ = −0.5 is ``0.7 - (-0.5)``, not ``0.7 - -0.5``.

        Example:
            >>> from symcnn.core.symbols import SymbolTable
            >>> x, mu = sympy.symbols("x mu")
            >>> NumberLatexPrinter(SymbolTable([]), {"x": 0.7, "mu": -0.5}).doprint(x - mu)
            '0.7 - (-0.5)'
        """
        tex = ""
        for i, term in enumerate(self._as_ordered_terms(expr, order=order)):
            if i and term.could_extract_minus_sign():
                tex += " - "
                term = -term
            elif i:
                tex += " + "
            term_tex = self._print(term)
            if self._needs_add_brackets(term):
                term_tex = rf"\left({term_tex}\right)"
            elif i and term_tex.startswith("-"):
                term_tex = f"({term_tex})"
            tex += term_tex
        return tex

    def _print_Mul(self, expr: Any) -> str:
        r"""A product as SymPy writes it; ``-x`` at x = −0.7 is ``-(-0.7)``.

        Example:
            >>> from symcnn.core.symbols import SymbolTable
            >>> x = sympy.Symbol("x")
            >>> NumberLatexPrinter(SymbolTable([]), {"x": -0.7}).doprint(-x)
            '-(-0.7)'
        """
        if len(expr.args) == 2 and expr.args[0] == -1:
            inner = self._print(expr.args[1])
            return f"-({inner})" if inner.startswith("-") else f"-{inner}"
        return super()._print_Mul(expr)

    def _print_IsFirstMax(self, expr: Any, exp: Any = None) -> str:
        # the bracket's value at these numbers: writing the numbers into "argmax(…)" would
        # lose which of two equal cells is the first
        numbers = {a: sympy.Float(self.values[str(a)]) for a in expr.window}
        return str(int(expr.xreplace(numbers)))

    def product(self, factors: list[Any]) -> str:
        coeff, rest = _split_factors(factors, self.table)
        parts = [self._item(f) for f in rest]
        sign = ""
        if coeff == -1 and parts:  # −t·y as "-0.3 \cdot 0.5", not "(-1) \cdot 0.3 \cdot 0.5"
            sign = "-"
        elif coeff != 1 or not parts:
            num = tfrac(coeff)
            parts.insert(0, num)
        # a negative factor of a product, or a negative first summand after "+", needs brackets
        return sign + r" \cdot ".join(f"({x})" if x.startswith("-") else x for x in parts)
