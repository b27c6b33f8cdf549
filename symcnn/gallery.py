"""The gallery in ``output/``: the sheets listed in ``output/gallery.toml``, by ``python3 -m symcnn.gallery``."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .api import Derivation, derive, load_network, preset
from .errors import LanguageError, SymcnnError
from .fileio import write_atomic
from .graph.network import Network
from .kinds.registry import layer_from_table
from .numeric.values import Values, check_values, hand_values, load_values
from .sheet.build import sheet_tex
from .sheet.compile import compile_pdf
from .sheet.i18n import language
from .sheet.options import Detail, SheetOptions

#: Regenerates the gallery (also quoted by the test that finds it out of date).
COMMAND = "python3 -m symcnn.gallery"
#: The repository's folders: the gallery's list and outputs, the example files it reads.
ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "output"
EXAMPLES = ROOT / "examples"


@dataclass(frozen=True)
class Entry:
    """One sheet of the gallery, as ``output/gallery.toml`` describes it."""

    name: str
    title: str
    table: dict[str, Any] = field(repr=False)

    @property
    def lang(self) -> str:
        """The language of the sheet (``lang = "ru"``; English when the entry says none)."""
        return str(self.table.get("lang", "en"))

    @property
    def preview(self) -> int | None:
        """The page rendered to PNG for the README (None: none)."""
        return self.table.get("preview")

    def network(self) -> Network:
        """The network derived: a preset, a network file, or a lone layer."""
        t = self.table
        if "preset" in t:
            return preset(t["preset"])
        if "network" in t:
            return load_network(EXAMPLES / t["network"])
        layer = layer_from_table(t["layer"]).sized(tuple(t["input"]))
        return Network.of(layer, t.get("index_base", 1), batch=t.get("batch"))

    def values(self, network: Network) -> Values | None:
        """The sheet's numbers (None: a sheet without a worked example)."""
        t = self.table
        if "random" in t:
            return hand_values(network, t["random"])  # as `symcnn sheet --random` draws them
        if "values" in t:
            return load_values(EXAMPLES / t["values"], network)
        if "numbers" in t:
            return check_values(network, t["numbers"], f"gallery {self.name}")
        return None


def entries(path: Path = OUTPUT / "gallery.toml") -> list[Entry]:
    """The sheets of the gallery, in order (an unknown ``lang`` is an error naming the sheet).

    Example:
        >>> [e.table.get("random") for e in entries()][:2]
        [3, None]
    """
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    found = [Entry(t["name"], t["title"], t) for t in data["sheet"]]
    for entry in found:
        try:
            language(entry.lang)
        except SymcnnError as err:
            raise LanguageError(f"{path.name}: sheet {entry.name!r}: {err}") from None
    return found


def render(entry: Entry, detail: Detail = "short") -> str:
    """The .tex of one gallery sheet (deterministic); ``detail`` as ``symcnn sheet --detail``.

    Example:
        >>> render(entries()[0]).startswith("%")
        True
    """
    network = entry.network()
    d: Derivation = derive(network)
    values = entry.values(network)
    t = entry.table
    options = SheetOptions(entry.title, values, t.get("source", ""), lang=entry.lang, detail=detail)
    if "random" in t:
        options.values_seed = t["random"]
    elif "values" in t:
        options.values_file = t["values"]
        options.values_source = t.get("source", "")
    return sheet_tex(d, options)


def preview_png(pdf: bytes, page: int, dpi: int = 80) -> bytes:
    """One page of a PDF as PNG bytes, by poppler's pdftoppm."""
    if shutil.which("pdftoppm") is None:
        raise SymcnnError("pdftoppm (poppler-utils) is needed for the preview image")
    with tempfile.TemporaryDirectory(prefix="symcnn-png-") as tmp:
        src = Path(tmp) / "sheet.pdf"
        src.write_bytes(pdf)
        args = ["pdftoppm", "-png", "-r", str(dpi), "-f", str(page), "-l", str(page)]
        try:
            subprocess.run(
                [*args, "-singlefile", str(src), str(Path(tmp) / "page")],
                check=True,
                capture_output=True,
                timeout=120,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
            raise SymcnnError(f"pdftoppm could not render page {page}: {err}") from None
        return (Path(tmp) / "page.png").read_bytes()


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate every gallery sheet (.tex, and .pdf plus the previews unless --tex-only)."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__)
    parser.add_argument("--out", default=str(OUTPUT), help="folder of the gallery (default output)")
    parser.add_argument("--tex-only", action="store_true", help="write the .tex files only")
    parser.add_argument("names", nargs="*", metavar="NAME", help="only these sheets")
    args = parser.parse_args(argv)
    out = Path(args.out)
    try:
        for entry in entries():
            if args.names and entry.name not in args.names:
                continue
            tex = render(entry)
            write_atomic(out / f"{entry.name}.tex", tex)
            print(f"wrote {out / entry.name}.tex")
            if args.tex_only:
                continue
            pdf = compile_pdf(tex, name=entry.name)
            write_atomic(out / f"{entry.name}.pdf", pdf)
            print(f"wrote {out / entry.name}.pdf")
            if entry.preview is not None:
                png = out / f"{entry.name}-page{entry.preview}.png"
                write_atomic(png, preview_png(pdf, entry.preview))
                print(f"wrote {png}")
    except SymcnnError as err:
        sys.stderr.write(f"symcnn.gallery: error: {err}\n")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
