"""SymPy printer subclasses: symcnn's names and functions as text, LaTeX, JSON strings and numbers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import symengine as se
import sympy
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from ..core.functions import (
    ElementwiseBase,
    IsFirstMax,
    LogSumExp,
    SoftMax,
    WindowMax,
    first_max_comparisons,
)
from ..core.symbols import Role, SymbolInfo, SymbolTable, with_channels

if TYPE_CHECKING:
    from ..derivation.backprop import ChainSum, Term


def _vector(printer: Any, ys: tuple[sympy.Basic, ...], latex: bool) -> tuple[str, list[str]]:
    """The name of the grid all ``ys`` belong to (``z²``), or their list; and their indices."""
    table = getattr(printer, "table", None)
    infos = [table.get(y) for y in ys] if table is not None else []
    known = [i for i in infos if i is not None]
    if known and len(known) == len(ys) and len({i.grid.name for i in known}) == 1:
        grid = known[0].grid
        unicode = getattr(printer, "unicode", True)
        stem = grid.latex if latex else (grid.text if unicode else grid.name)
        if grid.batch and len({i.sample_part for i in known}) == 1:  # one sample's vector
            n = known[0].sample_part[0]
            stem += f"_{{{n};}}" if latex else f"_n{n}"
        return stem, [
            ",".join(str(k) for k in info.channel_part + info.spatial_part) for info in known
        ]
    return ", ".join(printer._print(y) for y in ys), [str(k + 1) for k in range(len(ys))]


def tfrac(coeff: Any) -> str:
    r"""A rational coefficient as LaTeX, its sign in front: ``-\tfrac{1}{2}``, ``3``.

    Example:
        >>> tfrac(sympy.Rational(-1, 2)), tfrac(sympy.Integer(3))
        ('-\\tfrac{1}{2}', '3')
    """
    if coeff.q == 1:
        return str(coeff.p)
    sign = "-" if coeff.p < 0 else ""
    return rf"{sign}\tfrac{{{abs(coeff.p)}}}{{{coeff.q}}}"


def _power(body: str, exp: Any) -> str:
    """LaTeX of a function raised to a power: ``\\sigma(x)^{2}``."""
    return f"{body}^{{{exp}}}" if exp is not None else body


def index_text(info: SymbolInfo, sep: str = "") -> str:
    """Printed index of a symbol: ``11`` (compact) or ``10,3``; channels first: ``2,11``; the
    sample of a mini-batch before a semicolon: ``2;11``."""
    grid = info.grid
    compact = all(i < 10 for i in info.spatial_part + info.channel_part) and getattr(
        grid, "_compact", True
    )
    spatial = ("" if compact else ",").join(str(i) for i in info.spatial_part)
    channels = ",".join(str(c) for c in info.channel_part)
    rest = f"{channels}{sep or ','}{spatial}" if channels and spatial else channels or spatial
    if info.sample_part:
        return f"{info.sample_part[0]};{rest}"
    return rest


_ASCII = str.maketrans(
    {c: str(i) for i, c in enumerate("⁰¹²³⁴⁵⁶⁷⁸⁹")}
    | {
        "∂": "d",
        "⋆": "*",
        "δ": "d",
        "σ": "sigma",
        "·": "*",
        "→": "->",
        "ŷ": "y",
        "\u0302": "h",
        "μ": "mu",
        "⁽": "(",
        "⁾": ")",
        "½": "1/2",
        "Σ": "sum",
        "−": "-",
        "²": "^2",
        "≤": "<=",
        "≥": ">=",
        "←": "<-",
        "η": "eta",
        "⌊": "floor(",
        "⌋": ")",
        "ˡ": "^l",
        "∇": "grad_",
    }
)


def ascii_text(text: str) -> str:
    """The same text in ASCII: ``δ`` → ``d``, ``∂`` → ``d``, ``·`` → ``*`` …

    Example:
        >>> ascii_text("∂E/∂w⁰_11 = δ⁰_11·x_11")
        'dE/dw0_11 = d0_11*x_11'
    """
    return text.translate(_ASCII)


def _spelled(printer: Any, sym: Any) -> str:
    """A symbol as ``printer.spell`` writes it, once per name (printers repeat symbols)."""
    name = sym if isinstance(sym, str) else getattr(sym, "name", None) or str(sym)
    hit = printer._cache.get(name)
    if hit is None:
        hit = printer._cache[name] = printer.spell(name, printer.table.get(name))
    return hit


class TextPrinter(StrPrinter):
    """SymPy's str printer with symcnn's names: ``δ_11`` (or ``d_11`` in ASCII), Iverson max."""

    def __init__(self, table: SymbolTable, unicode: bool = True) -> None:
        super().__init__({"order": "none"})
        self.table = table
        self.unicode = unicode
        self._cache: dict[str, str] = {}
        self._keys: dict[Any, tuple[int, int]] = {}

    def symbol(self, sym: Any) -> str:
        """One symbol: ``a_11``, ``δ_2_11``."""
        return _spelled(self, sym)

    def spell(self, name: str, info: SymbolInfo | None) -> str:
        """A symbol of the table as text (any other name as it is)."""
        if info is None:
            return name
        stem = info.grid.text if self.unicode else ascii_text(info.grid.text)
        return stem + name[len(info.grid.name) :]

    def _print_Symbol(self, expr: sympy.Symbol) -> str:
        return self.symbol(expr)

    def _print_IsFirstMax(self, expr: IsFirstMax) -> str:
        window = ", ".join(self._item(a) for a in expr.window)
        return f"[{self._item(expr.winner)} = argmax({window})]"

    def _print_Pow(self, expr: sympy.Pow, rational: bool = False) -> str:
        exp = expr.exp
        if exp.is_Rational and exp.q == 2 and exp.p > 0:  # √(b), √(b)³
            inner = self._print(expr.base)
            root = f"√({inner})" if self.unicode else f"sqrt({inner})"
            if exp.p == 1:
                return root
            return root + ("⁰¹²³⁴⁵⁶⁷⁸⁹"[exp.p] if self.unicode and exp.p <= 9 else f"**{exp.p}")
        if self.unicode and exp.is_Integer and 2 <= int(exp) <= 9:
            base = self.parenthesize(expr.base, PRECEDENCE["Pow"])
            return base + "⁰¹²³⁴⁵⁶⁷⁸⁹"[int(exp)]
        return str(super()._print_Pow(expr, rational))

    def _print_WindowMax(self, expr: WindowMax) -> str:
        return "max(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_ElementwiseBase(self, expr: ElementwiseBase) -> str:
        form = expr.form_text if self.unicode else expr.form_ascii
        return expr.fill(form, self._print(expr.args[0]))

    def _print_SoftMax(self, expr: SoftMax) -> str:
        name, shown = _vector(self, expr.vector, latex=False)
        return f"softmax({name})_{shown[expr.position]}"

    def _print_LogSumExp(self, expr: LogSumExp) -> str:
        return f"logsumexp({_vector(self, expr.args, latex=False)[0]})"

    @property
    def times(self) -> str:
        return "·" if self.unicode else "*"

    def product(self, factors: list[Any]) -> str:
        """A product of a number and symbols/functions, in grid order: ``δ_11·a_12``, ``δ_11/4``."""
        fast = _symbols_only(factors, self.table, self._keys)
        if fast is not None:
            return self.times.join(self.symbol(f) for f in fast)
        coeff, rest = _split_factors(factors, self.table)
        rest, below = _over(rest)
        if below:  # a quotient: (x − μ)/√(σ² + ε), −δ·(x − μ)/(2·√(σ² + ε)³)
            den = [str(coeff.q)] if coeff.q != 1 else []
            den += [self._item(f) for f in below]
            under = den[0] if len(den) == 1 else "(" + self.times.join(den) + ")"
            top = [str(abs(coeff.p))] if abs(coeff.p) != 1 else []
            top += [self._item(f) for f in rest]
            return f"{'-' if coeff.p < 0 else ''}{self.times.join(top) or '1'}/{under}"
        alone = len(rest) == 1 and coeff == 1
        body = self.times.join(self._item(f, alone) for f in rest) or "1"
        if coeff == 1:
            return body
        if coeff == -1:
            return "-" + body
        if coeff.p == 1 and rest:
            return f"{body}/{coeff.q}"
        return f"{coeff}{self.times}{body}" if rest else str(coeff)

    def _item(self, f: Any, alone: bool = False) -> str:
        if isinstance(f, (sympy.Symbol, se.Symbol)):
            return self.symbol(f)
        expr = _sympy(f)
        return self._print(expr) if alone else self.parenthesize(expr, PRECEDENCE["Mul"])

    def total(self, parts: list[str]) -> str:
        """Join printed summands with ``+`` (``0`` for none)."""
        return " + ".join(parts).replace("+ -", "- ") if parts else "0"

    def gradient_name(self, sym: Any) -> str:
        """``∂E/∂w_11`` (``dE/dw_11`` in ASCII)."""
        d = "∂" if self.unicode else "d"
        return f"{d}E/{d}{self.symbol(sym)}"


class SymcnnLatexPrinter(LatexPrinter):
    """SymPy's LaTeX printer with symcnn's names (``a_{10,3}``, ``\\delta_{11}``) and Iverson max."""

    def __init__(self, table: SymbolTable) -> None:
        super().__init__({"order": "none"})
        self.table = table
        self._cache: dict[str, str] = {}
        self._keys: dict[Any, tuple[int, int]] = {}

    def symbol(self, sym: Any) -> str:
        """One symbol: ``a_{11}``, ``\\delta_{2,11}``, ``w_{10,3}``."""
        return _spelled(self, sym)

    def spell(self, name: str, info: SymbolInfo | None) -> str:
        """A symbol of the table as LaTeX, channels as a superscript: ``w^{(2,1)}_{11}``,
        ``z^{(0)(2)}_{11}`` in layer 0; the sample of a mini-batch first, before a semicolon:
        ``x^{(2)}_{1;34}`` (any other name as SymPy prints it)."""
        if info is None:
            return str(super()._print_Symbol(sympy.Symbol(name)))
        stem = info.grid.latex
        if info.channel_part:
            stem = with_channels(stem, ",".join(map(str, info.channel_part)))
        spatial = info.spatial_part
        sample = f"{info.sample_part[0]};" if info.sample_part else ""
        if not spatial:
            return f"{stem}_{{{sample}}}" if sample else stem
        compact = all(i < 10 for i in spatial) and getattr(info.grid, "_compact", True)
        return f"{stem}_{{{sample}{('' if compact else ',').join(map(str, spatial))}}}"

    def _print_Symbol(self, expr: sympy.Symbol, style: str = "plain") -> str:
        return self.symbol(expr)

    def _print_IsFirstMax(self, expr: IsFirstMax, exp: Any = None) -> str:
        window = ", ".join(self._print(a) for a in expr.window)
        return rf"\left[{self._print(expr.winner)} = \operatorname{{argmax}}({window})\right]"

    def _print_WindowMax(self, expr: WindowMax, exp: Any = None) -> str:
        return r"\max(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_ElementwiseBase(self, expr: ElementwiseBase, exp: Any = None) -> str:
        return _power(expr.fill(expr.form_latex, self._print(expr.args[0])), exp)

    def _print_SoftMax(self, expr: SoftMax, exp: Any = None) -> str:
        name, shown = _vector(self, expr.vector, latex=True)
        body = rf"\operatorname{{softmax}}\left({name}\right)_{{{shown[expr.position]}}}"
        return _power(body, exp)

    def _print_LogSumExp(self, expr: LogSumExp, exp: Any = None) -> str:
        terms = " + ".join(rf"e^{{{self._print(y)}}}" for y in expr.args)
        return _power(rf"\log\left({terms}\right)", exp)

    times = r"\,"

    def product(self, factors: list[Any]) -> str:
        """A product: ``\\delta_{11} a_{12}``, ``\\tfrac{1}{4} \\delta_{11}``."""
        fast = _symbols_only(factors, self.table, self._keys)
        if fast is not None:
            return " ".join(self.symbol(f) for f in fast)
        coeff, rest = _split_factors(factors, self.table)
        alone = len(rest) == 1 and coeff == 1
        body = " ".join(self._item(f, alone) for f in rest) or "1"
        if coeff == 1:
            return body
        if coeff == -1:
            return "-" + body
        num = tfrac(coeff)
        return f"{num} {body}" if rest else num

    def _item(self, f: Any, alone: bool = False) -> str:
        if isinstance(f, (sympy.Symbol, se.Symbol)):
            return self.symbol(f)
        expr = _sympy(f)
        return self._print(expr) if alone else self.parenthesize(expr, PRECEDENCE["Mul"])

    def total(self, parts: list[str]) -> str:
        """Join printed summands with ``+`` (``0`` for none)."""
        return " + ".join(parts).replace("+ -", "- ") if parts else "0"

    def gradient_name(self, sym: Any) -> str:
        """``\\frac{\\partial E}{\\partial w_{11}}``."""
        return rf"\frac{{\partial E}}{{\partial {self.symbol(sym)}}}"


Printer = TextPrinter | SymcnnLatexPrinter


def _sympy(expr: Any) -> sympy.Basic:
    if isinstance(expr, sympy.Basic):
        return expr
    return sympy.sympify(expr)


def _factors(expr: Any) -> list[Any]:
    if isinstance(expr, (se.Mul, sympy.Mul)):
        return list(expr.args)
    return [expr]


def _symbols_only(
    factors: list[Any], table: SymbolTable, keys: dict[Any, tuple[int, int]] | None = None
) -> list[Any] | None:
    """Fast path: the factors as one sorted list (δ first) if they are all symengine symbols.

    ``keys`` caches each symbol's sort key across calls (a printer's products reuse symbols).
    """
    flat: list[Any] = []
    for f in factors:
        if type(f) is se.Symbol:
            flat.append(f)
        elif type(f) is se.Mul and all(type(g) is se.Symbol for g in f.args):
            flat.extend(f.args)
        elif type(f) is se.Integer and f == 1:
            continue
        else:
            return None
    if len(flat) > 1:
        if keys is None:
            keys = {}

        def key(g: Any) -> tuple[int, int]:
            hit = keys.get(g)
            if hit is None:
                hit = keys[g] = _order_key(g, table)
            return hit

        flat.sort(key=key)
    return flat


def _order_key(g: Any, table: SymbolTable) -> tuple[int, int]:
    info = table.get(g) if isinstance(g, (sympy.Symbol, se.Symbol)) else None
    if info is None:
        # functions such as σ(z) before sums such as (1 − σ(z)): σ(z)·(1 − σ(z))
        return (2, 0) if isinstance(g, (sympy.Add, se.Add)) else (1, 0)
    # δ first, then the grids in table order
    return (0, -1 if info.grid.role is Role.DELTA else table.position(g))


def _over(rest: list[Any]) -> tuple[list[Any], list[sympy.Basic]]:
    """Split factors into those above and those below a fraction bar (negative powers of a
    sum or a function: ``1/√(σ² + ε)``), the latter with the sign of their exponent flipped."""
    above, below = [], []
    for f in rest:
        expr = _sympy(f)
        if (
            isinstance(expr, sympy.Pow)
            and expr.exp.is_negative
            and expr.exp.is_Rational
            and not isinstance(expr.base, sympy.Symbol)
        ):
            below.append(sympy.Pow(expr.base, -expr.exp))
        else:
            above.append(f)
    return above, below


def _split_factors(factors: list[Any], table: SymbolTable) -> tuple[sympy.Rational, list[Any]]:
    coeff = sympy.Rational(1)
    rest: list[Any] = []
    for f in factors:
        for g in _factors(f):
            if getattr(g, "is_Number", False) or isinstance(g, se.Number):
                coeff *= sympy.Rational(str(g))
            else:
                rest.append(g)

    rest.sort(key=lambda g: _order_key(g, table))
    return coeff, rest


def term_string(printer: Printer, term: Term) -> str:
    """One chain-rule term ``δ_z · ∂z/∂x`` as printed text or LaTeX."""
    return printer.product([term.delta, term.partial])


def chain_sum_string(printer: Printer, cs: ChainSum) -> str:
    """A whole gradient entry: the terms joined in chain-rule order."""
    return printer.total([term_string(printer, t) for t in cs.terms])


def forward_string(printer: Printer, summands: Iterable[Any]) -> str:
    """One forward entry, e.g. ``a_11·w_11 + a_12·w_12 + b``."""
    return printer.total([printer.product([s]) for s in summands])


class JsonPrinter(TextPrinter):
    """Plain identifiers, ``*`` products, and only SymPy built-ins (Piecewise, Max) for max-pool."""

    def __init__(self, table: SymbolTable) -> None:
        super().__init__(table, unicode=False)

    def spell(self, name: str, info: SymbolInfo | None) -> str:
        """The identifier itself (``d1_11``), so that formulas parse back with SymPy."""
        return name

    def _print_IsFirstMax(self, expr: IsFirstMax) -> str:
        # the Piecewise SymPy's rewrite would give, printed straight from the rule (the
        # rewrite costs about a millisecond a bracket)
        winner = self._item(expr.winner)
        pairs = first_max_comparisons(expr.position, expr.window)
        if not pairs:
            return "1"
        conds = " & ".join(
            f"({winner} {'>' if strict else '>='} {self._item(other)})" for strict, other in pairs
        )
        return f"Piecewise((1, {conds}), (0, True))"

    def _print_WindowMax(self, expr: WindowMax) -> str:
        return "Max(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_ElementwiseBase(self, expr: ElementwiseBase) -> str:
        return expr.fill(expr.form_json, self._print(expr.args[0]))

    def _print_SoftMax(self, expr: SoftMax) -> str:
        total = " + ".join(f"exp({self._print(y)})" for y in expr.vector)
        return f"(exp({self._print(expr.vector[expr.position])})/({total}))"

    def _print_LogSumExp(self, expr: LogSumExp) -> str:
        return "log(" + " + ".join(f"exp({self._print(y)})" for y in expr.args) + ")"
