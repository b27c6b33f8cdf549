"""Compile LaTeX to PDF safely: the engine the file names, no shell escape, a private folder,
a time limit, and a clear error (with the Debian packages to install when something lacks)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import TexCompileError, TexEngineMissing
from .i18n import ENGINES, LANGUAGES, Language

#: Seconds one compilation may take before it is stopped.
DEFAULT_TIMEOUT = 120.0

_FLAGS = ["-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape"]
#: latexmk's option for each engine it may run.
_LATEXMK = {"pdflatex": "-pdf", "xelatex": "-xelatex", "lualatex": "-lualatex"}
#: The magic comment editors read (TeXShop, TeXstudio, VS Code's LaTeX Workshop).
_PROGRAM = re.compile(r"%\s*!\s*TeX\s+(?:TS-)?program\s*=\s*(\S+)", re.IGNORECASE)
#: What fontspec and LaTeX say when a font or a file (a package) is missing.
_NOT_FOUND = re.compile(r'The font "([^"]+)" cannot be found|File `([^\']+)\' not found')
#: A glyph the font lacks: XeTeX and pdfTeX log it and go on (``\tracinglostchars``).
_MISSING_CHAR = re.compile(r"Missing character: There is no (.+?) in font ([^!\n]+)")


def engine_of(tex: str) -> str:
    r"""The engine a document names in its ``% !TEX program = …`` line (pdflatex without one).

    The line is looked for among the comment lines at the top of the file.

    Example:
        >>> engine_of("% !TEX program = xelatex\n\\documentclass{article}")
        'xelatex'
        >>> engine_of("\\documentclass{article}")
        'pdflatex'
    """
    for line in tex.splitlines():
        if not line.startswith("%"):
            break
        m = _PROGRAM.match(line)
        if m:
            name = m.group(1).lower()
            if name not in _LATEXMK:
                raise TexCompileError(
                    f"the .tex asks for the TeX program {name!r}; symcnn runs {', '.join(_LATEXMK)}"
                )
            return name
    return "pdflatex"


def find_engine(engine: str = "pdflatex") -> list[list[str]] | None:
    """The commands to run (``{tex}`` stands for the file name), or None without the engine.

    latexmk when it and the engine are installed (it reruns as needed), else the engine
    twice (the second run resolves the figure references).

    Example:
        >>> find_engine() is None or find_engine()[0][0] in ("latexmk", "pdflatex")
        True
    """
    if shutil.which(engine) is None:
        return None
    if shutil.which("latexmk") is not None:
        return [["latexmk", "-norc", _LATEXMK[engine], "-quiet", *_FLAGS, "{tex}"]]
    return [[engine, *_FLAGS, "{tex}"]] * 2


def missing_packages(lang: Language | str) -> list[str]:
    """The Debian packages to install before sheets in ``lang`` compile (none: all there).

    Looks for the engine and every font and file the language needs (`Language.needs`).

    Example:
        >>> missing_packages("en") in ([], list(ENGINES["pdflatex"]))
        True
    """
    entry = LANGUAGES[lang] if isinstance(lang, str) else lang
    packages: list[str] = []
    if shutil.which(entry.engine) is None:
        packages += ENGINES[entry.engine]
    for need in entry.needs:
        if need.package not in packages and not _installed(need.what, need.name):
            packages.append(need.package)
    return packages


def _installed(what: str, name: str) -> bool:
    """Whether a program, a TeX file or a font family is on this machine."""
    if what == "program":
        return shutil.which(name) is not None
    tool = ["kpsewhich", name] if what == "file" else ["fc-list", name, "family"]
    if shutil.which(tool[0]) is None:
        return False
    found = subprocess.run(tool, capture_output=True, text=True, check=False, timeout=60)
    return found.returncode == 0 and bool(found.stdout.strip())


def _packages_for(log: str) -> list[str]:
    """The Debian packages that provide the fonts and files a failed run could not find."""
    known: dict[str, str] = {}
    for lang in LANGUAGES.values():
        for need in lang.needs:
            known[need.name] = known[need.name.removesuffix(".otf")] = need.package
            if need.what == "font":  # the sans and typewriter fonts come with the main one
                known.update(dict.fromkeys(lang.fonts or (), need.package))
    packages: list[str] = []
    for m in _NOT_FOUND.finditer(log):
        package = known.get(m.group(1) or m.group(2))
        if package and package not in packages:
            packages.append(package)
    return packages


def _environment() -> dict[str, str]:
    """The engine's environment: reads and writes confined to its folder, reproducible PDFs."""
    env = dict(os.environ)
    env["openin_any"] = "p"  # kpathsea: no reading of absolute paths or dot files
    env["openout_any"] = "p"
    env["shell_escape"] = "f"
    env["max_print_line"] = "10000"  # log lines unbroken: messages are read whole
    env.setdefault("SOURCE_DATE_EPOCH", "0")  # fixed dates and ids: byte-stable PDFs
    env.setdefault("FORCE_SOURCE_DATE", "1")
    return env


def first_error(log: str) -> str:
    r"""The engine's first error message, with the line of the .tex it points at.

    Example:
        >>> first_error("This is pdfTeX\n! Undefined control sequence.\nl.12 \\foo\n")
        'Undefined control sequence. (line 12 of the .tex)'
    """
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("!"):
            message = line[1:].strip()
            for follow in lines[i + 1 : i + 30]:
                m = re.match(r"l\.(\d+)", follow)
                if m:
                    return f"{message} (line {m.group(1)} of the .tex)"
            return message
    return "no error message in the log"


@dataclass(frozen=True)
class Compiled:
    """A compiled document: the PDF's bytes, the engine's log, and the engine that ran."""

    pdf: bytes
    log: str
    engine: str


def compile_pdf(tex: str, timeout: float = DEFAULT_TIMEOUT, name: str = "sheet") -> bytes:
    r"""Compile a LaTeX document in a fresh temporary folder and return the PDF's bytes.

    The engine is the one the document's first line names (``% !TEX program = xelatex``;
    pdflatex without one). Raises `TexEngineMissing` without that engine, and
    `TexCompileError` when the engine fails (naming the Debian packages to install when a
    font or a package is missing), when a character is missing from its font (XeLaTeX
    typesets nothing for it and goes on), or when it runs longer than ``timeout`` seconds
    (it is then stopped with its children).

    Example:
        >>> pdf = compile_pdf(r"\documentclass{article}\begin{document}x\end{document}")  # doctest: +SKIP
        >>> pdf[:5]  # doctest: +SKIP
        b'%PDF-'
    """
    return run_tex(tex, timeout, name).pdf


def run_tex(tex: str, timeout: float = DEFAULT_TIMEOUT, name: str = "sheet") -> Compiled:
    """`compile_pdf`, keeping the engine's log (tests read its warnings)."""
    engine = engine_of(tex)
    commands = find_engine(engine)
    if commands is None:
        raise TexEngineMissing(
            f"no TeX engine found ({engine}, which this sheet names on its first line); "
            f"install it, e.g. apt-get install {' '.join(_install_hint(engine))} "
            "(scripts/bootstrap does it as root)"
        )
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name) or "sheet"
    with tempfile.TemporaryDirectory(prefix="symcnn-tex-") as tmp:
        folder = Path(tmp)
        (folder / f"{safe}.tex").write_text(tex, encoding="utf-8")
        for command in commands:
            args = [a.replace("{tex}", f"{safe}.tex") for a in command]
            _run(args, folder, timeout, engine)
        pdf = folder / f"{safe}.pdf"
        log_file = folder / f"{safe}.log"
        log = log_file.read_text(encoding="utf-8", errors="replace") if log_file.is_file() else ""
        if not pdf.is_file():
            raise TexCompileError(f"{engine} failed: {first_error(log)}{_hint(log)}")
        missing = _MISSING_CHAR.findall(log)
        if missing:
            char, font = missing[0]
            font = re.sub(r"/[A-Z]+$", "", font.split(":")[0].strip("[]"))  # no features
            raise TexCompileError(
                f"{engine}: the font {font} has no glyph for {char}"
                f"{f' (and {len(missing) - 1} more missing characters)' if len(missing) > 1 else ''}"
                "; the PDF would show nothing in its place"
            )
        return Compiled(pdf.read_bytes(), log, engine)


def _install_hint(engine: str) -> list[str]:
    packages = list(ENGINES[engine])
    return [*packages, "latexmk"] if shutil.which("latexmk") is None else packages


def _hint(log: str) -> str:
    """``; install …`` naming the Debian packages of missing fonts or files (or nothing)."""
    packages = _packages_for(log)
    if not packages:
        return ""
    return (
        f"; install the Debian package(s): apt-get install {' '.join(packages)} "
        "(scripts/bootstrap does it as root)"
    )


def _run(args: list[str], folder: Path, timeout: float, engine: str) -> None:
    proc = subprocess.Popen(
        args,
        cwd=folder,
        env=_environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise TexCompileError(
            f"{engine} did not finish within {timeout:g} s; the sheet may be too large"
        ) from None
    if proc.returncode != 0:
        log = folder / (Path(args[-1]).stem + ".log")
        text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
        raise TexCompileError(f"{engine} failed: {first_error(text)}{_hint(text)}")
