"""Page counts of the gallery's sheets, against the targets of issue 10 and the counts before.

Run from the repository root:  python3 bench/bench_pages.py [--json FILE]

Every sheet of output/gallery.toml is rendered and compiled (pdflatex), its pages counted with
poppler's pdfinfo, and printed beside the count of the 0.1 sheets (before the rework) and the
target where the issue sets one: seed 000's network with numbers at most 12 pages, seed 003's
layer with numbers at most 6. Also the same sheets with --detail full, for comparison.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from symcnn.gallery import entries, render
from symcnn.sheet.compile import compile_pdf

#: Pages of the 0.1 sheets (symcnn before the rework of issue 10), measured on the gallery.
BEFORE = {
    "avgpool2d-seed003": 5,
    "conv2d-2in-2out": 9,
    "conv2d-seed001": 13,
    "conv2d-seed003": 8,
    "conv2d-stride2-pad1": 7,
    "maxpool2d-overlap": 7,
    "maxpool2d-seed003": 5,
    "network-seed000": 32,
    "network-seed003": 12,
}
#: The targets of issue 10.
TARGETS = {"network-seed000": 12, "conv2d-seed003": 6}


def pages(pdf: bytes) -> int:
    """The number of pages of a PDF, by pdfinfo."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        info = subprocess.run(["pdfinfo", f.name], capture_output=True, text=True, check=True)
    m = re.search(r"^Pages:\s+(\d+)", info.stdout, re.M)
    assert m, info.stdout
    return int(m.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="FILE", help="also write the counts as JSON")
    args = parser.parse_args()
    rows = []
    failed = False
    print(f"{'sheet':24} {'before':>6} {'after':>6} {'full':>6} {'target':>7}")
    for entry in entries():
        if getattr(entry, "lang", "en") != "en":
            continue
        short = pages(compile_pdf(render(entry)))
        full = pages(compile_pdf(render(entry, detail="full")))
        target = TARGETS.get(entry.name)
        ok = target is None or short <= target
        failed |= not ok
        before = BEFORE.get(entry.name)
        rows.append(
            {"sheet": entry.name, "before": before, "after": short, "full": full, "target": target}
        )
        print(
            f"{entry.name:24} {before if before is not None else '-':>6} {short:>6} {full:>6} "
            f"{'≤ ' + str(target) if target else '':>7} {'' if ok else 'OVER TARGET'}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
