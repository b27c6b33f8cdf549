"""``--general``: the size-independent formulas of a layer or a network, as text, LaTeX or JSON."""

from __future__ import annotations

from typing import Any

import sympy
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from ..core.shapes import shape_text
from ..core.symbols import Role
from ..derivation.general import Bound, GeneralGradient, GeneralLayer
from ..derivation.index import loss_steps

_TITLES = {Role.OUTPUT: "forward", Role.INPUT: "gradient of the input"}


class IndexTextPrinter(StrPrinter):
    """Index formulas as text: ``Σ_{i=1..3} δ[i, j]·w[u − i + 1, …]``, ``⌈u/2⌉``, ``max(…)``.

    Example:
        >>> i = sympy.Symbol("i")
        >>> IndexTextPrinter().doprint(sympy.Sum(sympy.IndexedBase("delta")[i], (i, 1, 3)))
        'Σ_{i=1..3} δ[i]'
    """

    printmethod = ""  # not the objects' own ``_sympystr``: Indexed would print its own way

    def __init__(self, unicode: bool = True) -> None:
        super().__init__()
        self.unicode = unicode

    def _print_IndexedBase(self, expr: sympy.IndexedBase) -> str:
        name = str(expr.label)
        return {"delta": "δ", "mu": "μ", "omega": "ω"}.get(name, name) if self.unicode else name

    def _print_Indexed(self, expr: sympy.Indexed) -> str:
        inside = ", ".join(self._print(i) for i in expr.indices)
        return f"{self._print_IndexedBase(expr.base)}[{inside}]"

    def _print_Sum(self, expr: sympy.Sum) -> str:
        sigma = "Σ" if self.unicode else "sum"
        heads = [
            f"{sigma}_{{{self._print(v)}={self._print(lo)}..{self._print(hi)}}}"
            for v, lo, hi in expr.limits
        ]
        return " ".join(heads) + " " + self.parenthesize(expr.function, PRECEDENCE["Mul"])

    def _print_Mul(self, expr: sympy.Mul) -> str:
        text = super()._print_Mul(expr)
        return text if not self.unicode else _times(self, expr, text)

    def _print_ElementwiseBase(self, expr: Any) -> str:
        form = expr.form_text if self.unicode else expr.form_ascii
        return str(expr.fill(form, self._print(expr.args[0])))

    def _print_ceiling(self, expr: Any) -> str:
        inner = self._print(expr.args[0])
        return f"⌈{inner}⌉" if self.unicode else f"ceil({inner})"

    def _print_floor(self, expr: Any) -> str:
        inner = self._print(expr.args[0])
        return f"⌊{inner}⌋" if self.unicode else f"floor({inner})"

    def _print_Max(self, expr: Any) -> str:
        return "max(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Min(self, expr: Any) -> str:
        return "min(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Mod(self, expr: Any) -> str:
        return f"({self._print(expr.args[0])}) mod {self._print(expr.args[1])}"

    def _print_Equality(self, expr: Any) -> str:
        return f"{self._print(expr.lhs)} = {self._print(expr.rhs)}"

    def _print_Derivative(self, expr: Any) -> str:
        d = "∂" if self.unicode else "d"
        return f"{d}{self._print(expr.expr)}/{d}{self._print(expr.variables[0])}"


def _times(p: IndexTextPrinter, expr: sympy.Mul, text: str) -> str:
    """A product with ``·`` between its factors (built from the factors, not the text)."""
    coeff, factors = expr.as_coeff_mul()
    if any(f.is_Pow and f.exp.is_negative for f in factors) or not factors or not coeff.is_Integer:
        return text
    parts = [p.parenthesize(f, PRECEDENCE["Mul"]) for f in sympy.Mul(*factors).as_ordered_factors()]
    body = "·".join(parts)
    if coeff == 1:
        return body
    if coeff == -1:
        return "-" + body
    return f"{p._print(coeff)}·{body}"


class IndexLatexPrinter(LatexPrinter):
    r"""Index formulas as LaTeX: ``\delta_{o,i,j}``, ``\frac{\partial E}{\partial a_{c',u,v}}``."""

    def _print_IndexedBase(self, expr: sympy.IndexedBase) -> str:
        name = str(expr.label)
        return {"delta": r"\delta", "mu": r"\mu", "omega": r"\omega"}.get(name, name)

    def _print_Indexed(self, expr: sympy.Indexed) -> str:
        inside = ",".join(self._print(i) for i in expr.indices)
        return f"{self._print_IndexedBase(expr.base)}_{{{inside}}}"

    def _print_ElementwiseBase(self, expr: Any, exp: Any = None) -> str:
        return str(expr.fill(expr.form_latex, self._print(expr.args[0])))

    def _print_Derivative(self, expr: Any) -> str:
        x = self._print(expr.variables[0])
        return rf"\frac{{\partial {self._print(expr.expr)}}}{{\partial {x}}}"

    def _print_Mod(self, expr: Any, exp: Any = None) -> str:
        return rf"\left({self._print(expr.args[0])}\right) \bmod {self._print(expr.args[1])}"


class IndexJsonPrinter(StrPrinter):
    """Strings ``sympy.parse_expr`` reads: primes spelled ``_p`` (``c'`` → ``c_p``)."""

    def _print_Symbol(self, expr: sympy.Symbol) -> str:
        return expr.name.replace("'", "_p")

    def _print_Derivative(self, expr: Any) -> str:
        return f"Derivative({self._print(expr.expr)}, {self._print(expr.variables[0])})"


def _ranges(p: Any, ranges: tuple[Bound, ...], dots: str) -> str:
    return ", ".join(
        f"{p.doprint(b.index)} = {p.doprint(b.lo)}{dots}{p.doprint(b.hi)}" for b in ranges
    )


def _heading(role: Role) -> str:
    return _TITLES.get(role, f"gradient of the {role.value}")


def general_text(
    layers: list[tuple[str, GeneralLayer]], base: int, unicode: bool = True
) -> list[str]:
    """Each layer's forward formula and gradients with their exact ranges, as text lines.

    Example:
        >>> from symcnn.derivation.general import general_layer
        >>> from symcnn import Linear
        >>> lines = general_text([("", general_layer(Linear(2, input=(3,))))], 1)
        >>> lines[lines.index("  gradient of the weight, for i' = 1…2, j' = 1…3:") + 1]
        "    ∂E/∂w[i', j'] = a[j']·δ[i']"
    """
    p = IndexTextPrinter(unicode)
    dots = "…" if unicode else ".."
    arrow = "→" if unicode else "->"
    lines: list[str] = []
    for head, g in layers:
        lines.append(f"{head}{g.layer.describe().replace('->', arrow)}")
        for formula in (g.forward, *g.gradients):
            where = _ranges(p, formula.ranges, dots)
            lines.append(f"  {_heading(formula.role)}{', for ' + where if where else ''}:")
            lines.append(f"    {p.doprint(formula.lhs)} = {p.doprint(formula.rhs)}")
            if formula.conditions:
                conds = " and ".join(p.doprint(c) for c in formula.conditions)
                lines.append(f"    (only the terms where {conds}; the others are 0)")
        lines.append("")
    return lines


def general_latex(layers: list[tuple[str, GeneralLayer]], base: int) -> str:
    r"""The same as ``align*`` blocks, one per layer.

    Example:
        >>> from symcnn.derivation.general import general_layer
        >>> from symcnn import Linear
        >>> r"\frac{\partial E}{\partial w_{i',j'}}" in general_latex([("", general_layer(Linear(2, input=(3,))))], 1)
        True
    """
    p = IndexLatexPrinter()
    out = []
    for head, g in layers:
        rows = []
        for formula in (g.forward, *g.gradients):
            where = _ranges(p, formula.ranges, r" \ldots ")
            cond = ""
            if formula.conditions:
                cond = r" \quad \text{terms where } " + r",\ ".join(
                    p.doprint(c) for c in formula.conditions
                )
            rows.append(
                f"{p.doprint(formula.lhs)} &= {p.doprint(formula.rhs)}{cond}"
                + (rf" && \text{{for }} {where}" if where else "")
            )
        block = "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}"
        out.append(f"% {head}{g.layer.describe()}\n{block}")
    return "\n\n".join(out) + "\n"


def _formula_json(p: IndexJsonPrinter, f: GeneralGradient) -> dict[str, Any]:
    return {
        "lhs": p.doprint(f.lhs),
        "rhs": p.doprint(f.rhs),
        "ranges": {p.doprint(b.index): [p.doprint(b.lo), p.doprint(b.hi)] for b in f.ranges},
        "conditions": [p.doprint(c) for c in f.conditions],
    }


def general_json(layers: list[tuple[str, GeneralLayer]], base: int) -> dict[str, Any]:
    """One object: per layer its config, forward formula and every gradient, ranges exact.

    Example:
        >>> from symcnn.derivation.general import general_layer
        >>> from symcnn import Linear
        >>> j = general_json([("", general_layer(Linear(2, input=(3,))))], 1)
        >>> j["layers"][0]["grad"]["weight"]["rhs"]
        'a[j_p]*delta[i_p]'
    """
    p = IndexJsonPrinter()
    entries = []
    for head, g in layers:
        entries.append(
            {
                "name": head.rstrip(": "),
                "layer": g.layer.kind,
                "config": g.layer.config(),
                "input_shape": list(g.layer.input_shape),
                "output_shape": list(g.layer.output_shape),
                "sizes": {str(k): v for k, v in g.general.sizes.items()},
                "forward": _formula_json(p, g.forward),
                "grad": {f.role.value: _formula_json(p, f) for f in g.gradients},
            }
        )
    return {
        "general": True,
        "index_base": base,
        "layers": entries,
        "conventions": {
            "names": "in each layer a is its input, z its output, delta = dE/dz, w and b its "
            "parameters, mu the max-pool mask, omega the average-pool weights 1/(k_1 k_2)",
            "ranges": "every index of a sum runs over the exact range given; a term whose "
            "condition fails is 0",
            "parse": "sympy.parse_expr with IndexedBase a, z, w, b, delta, mu, omega; a "
            "primed index c' is written c_p",
            "shapes": f"indices from {base}; a channel axis of size 1 is not written",
        },
    }


def describe_shapes(g: GeneralLayer) -> str:
    """``1x32x32 → 6x28x28``."""
    return f"{shape_text(g.layer.input_shape)} → {shape_text(g.layer.output_shape)}"


def _loss_formulas(loss: Any, base: int) -> tuple[sympy.Basic, GeneralGradient]:
    steps = loss_steps(loss, base)
    result = steps.steps[-1]
    k = [s for s in result.lhs.variables[0].indices] if hasattr(result.lhs, "variables") else []
    n = int(loss.input_shape[0]) if len(loss.input_shape) == 1 else 0
    ranges = tuple(Bound(s, sympy.Integer(base), sympy.Integer(base + n - 1)) for s in k if n)
    sizes = dict(steps.sizes)
    rhs = result.rhs.xreplace(sizes)
    return steps.definition.rhs.xreplace(sizes), GeneralGradient(
        Role.INPUT, result.lhs, rhs, (), ranges
    )


def loss_text(loss: Any, base: int, unicode: bool = True) -> list[str]:
    """The loss and ∂E/∂ŷ as text lines (y is the network output ŷ, t the target)."""
    p = IndexTextPrinter(unicode)
    definition, grad = _loss_formulas(loss, base)
    where = _ranges(p, grad.ranges, "…" if unicode else "..")
    return [
        f"loss ({loss.kind}), y is the network output and t the target:",
        f"  E = {p.doprint(definition)}",
        f"  gradient of the output{', for ' + where if where else ''}:",
        f"    {p.doprint(grad.lhs)} = {p.doprint(grad.rhs)}",
    ]


def loss_json(loss: Any, base: int) -> dict[str, Any]:
    """The loss and ∂E/∂ŷ as JSON strings."""
    p = IndexJsonPrinter()
    definition, grad = _loss_formulas(loss, base)
    return {"loss": loss.kind, "definition": p.doprint(definition), "grad": _formula_json(p, grad)}
