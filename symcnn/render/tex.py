"""LaTeX as a type: `Tex` marks strings that are already LaTeX; `escape_tex` makes any text safe."""

from __future__ import annotations

import unicodedata


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
