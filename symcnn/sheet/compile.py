"""Compile LaTeX to PDF safely: no shell escape, a private folder, a time limit, a clear error."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from ..errors import TexCompileError, TexEngineMissing

#: Seconds one compilation may take before it is stopped.
DEFAULT_TIMEOUT = 120.0

_FLAGS = ["-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape"]


def find_engine() -> list[list[str]] | None:
    """The commands to run (``{tex}`` stands for the file name), or None without an engine.

    latexmk when it and pdflatex are installed (it reruns as needed), else pdflatex twice
    (the second run resolves the figure references).

    Example:
        >>> find_engine() is None or find_engine()[0][0] in ("latexmk", "pdflatex")
        True
    """
    if shutil.which("pdflatex") is None:
        return None
    if shutil.which("latexmk") is not None:
        return [["latexmk", "-norc", "-pdf", "-quiet", *_FLAGS, "{tex}"]]
    return [["pdflatex", *_FLAGS, "{tex}"]] * 2


def _environment() -> dict[str, str]:
    """The engine's environment: reads and writes confined to its folder, reproducible PDFs."""
    env = dict(os.environ)
    env["openin_any"] = "p"  # kpathsea: no reading of absolute paths or dot files
    env["openout_any"] = "p"
    env["shell_escape"] = "f"
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


def compile_pdf(tex: str, timeout: float = DEFAULT_TIMEOUT, name: str = "sheet") -> bytes:
    r"""Compile a LaTeX document in a fresh temporary folder and return the PDF's bytes.

    Raises `TexEngineMissing` without an engine and `TexCompileError` when the engine fails
    or runs longer than ``timeout`` seconds (it is then stopped with its children).

    Example:
        >>> pdf = compile_pdf(r"\documentclass{article}\begin{document}x\end{document}")  # doctest: +SKIP
        >>> pdf[:5]  # doctest: +SKIP
        b'%PDF-'
    """
    commands = find_engine()
    if commands is None:
        raise TexEngineMissing(
            "no TeX engine found (pdflatex); install one, e.g. apt-get install "
            "texlive-latex-recommended texlive-pictures latexmk"
        )
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name) or "sheet"
    with tempfile.TemporaryDirectory(prefix="symcnn-tex-") as tmp:
        folder = Path(tmp)
        (folder / f"{safe}.tex").write_text(tex, encoding="utf-8")
        for command in commands:
            args = [a.replace("{tex}", f"{safe}.tex") for a in command]
            _run(args, folder, timeout)
        pdf = folder / f"{safe}.pdf"
        log = folder / f"{safe}.log"
        if not pdf.is_file():
            text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
            raise TexCompileError(f"{args[0]} failed: {first_error(text)}")
        return pdf.read_bytes()


def _run(args: list[str], folder: Path, timeout: float) -> None:
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
            f"{args[0]} did not finish within {timeout:g} s; the sheet may be too large"
        ) from None
    if proc.returncode != 0:
        log = folder / (Path(args[-1]).stem + ".log")
        text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
        raise TexCompileError(f"{args[0]} failed: {first_error(text)}")
