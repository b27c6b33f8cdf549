"""What the benchmarks share: CPU timing, whole-process runs with their memory, the code before.

The machine is shared and noisy, so every figure that matters is a ratio of two runs made in
the same session: the code of a git revision (``--before``, by default the last commit before
issue 13) beside the working tree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: The last commit before issue 13 (LeNet-5 in seconds, the general form, progress).
BEFORE = "c096e71"


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """CPU seconds one call takes (steadier than wall time on a shared machine), and its result."""
    start = time.process_time()
    result = fn()
    return time.process_time() - start, result


@dataclass(frozen=True)
class Process:
    """One whole ``python -m symcnn …`` run: wall and CPU seconds, peak memory, output size."""

    wall: float
    cpu: float
    rss_mb: float
    out_bytes: int


#: Runs a command and writes its own rusage to standard error: a small process forks it, so
#: the peak memory is the command's (a child forked from the benchmark would start with the
#: benchmark's memory already counted).
_WRAPPER = """
import json, os, subprocess, sys
proc = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(proc.pid, 0)
sys.stderr.write(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime,
                             usage.ru_maxrss]) + "\\n")
"""


def whole_process(root: Path, args: list[str]) -> Process:
    """Run ``python -m symcnn ARGS`` with ``root``'s code: wall and CPU time, peak memory."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", _WRAPPER, sys.executable, "-m", "symcnn", *args],
            stdout=out,
            stderr=subprocess.PIPE,
            env=env,
            cwd=root,
        )
        wall = time.perf_counter() - start
        size = out.tell()
    code, cpu, rss_kb = json.loads(done.stderr.decode().strip().splitlines()[-1])
    if code not in (0, 1):
        raise SystemExit(f"symcnn {' '.join(args)} failed ({code}): {done.stderr.decode()[-400:]}")
    return Process(wall, cpu, rss_kb / 1024, size)


def best(root: Path, args: list[str], runs: int) -> Process:
    """The best of ``runs`` whole-process runs (least disturbed by the machine's other work)."""
    results = [whole_process(root, args) for _ in range(runs)]
    return min(results, key=lambda p: p.cpu)


def checkout(rev: str) -> Path:
    """The files of a git revision in a temporary folder (kept until the process ends)."""
    folder = Path(tempfile.mkdtemp(prefix=f"symcnn-{rev}-"))
    archive = subprocess.run(
        ["git", "archive", rev], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def line(name: str, before: Process | None, after: Process) -> str:
    """``name: before 23.1 s CPU 600 MB → after 1.0 s 170 MB (23x less time, 3.5x less memory)``."""
    now = f"{after.cpu:.2f} s CPU ({after.wall:.2f} s wall), {after.rss_mb:.0f} MB"
    if before is None:
        return f"  {name}: {now}"
    was = f"{before.cpu:.2f} s CPU ({before.wall:.2f} s wall), {before.rss_mb:.0f} MB"
    return (
        f"  {name}:\n    before {was}\n    after  {now}\n"
        f"    → {before.cpu / after.cpu:.1f}x less CPU time, "
        f"{before.rss_mb / after.rss_mb:.1f}x less memory"
    )
