"""Running a small Python program under the real strace, for tests that check formats against it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

STRACE = Path("/usr/bin/strace")


def run_strace(tmp_path: Path, program: str, *options: str) -> list[str]:
    """Run ``python -c program`` under strace with options; its output lines, or a skip if it cannot run."""
    if not STRACE.exists():
        pytest.skip("/usr/bin/strace is not installed, so there is no real strace output to compare with")
    out = tmp_path / "strace.out"
    proc = subprocess.run([str(STRACE), "-qq", "-o", str(out), *options, sys.executable, "-c", program],
                          capture_output=True, text=True, timeout=300, check=False)
    if "ptrace" in proc.stderr.lower():
        pytest.skip(f"strace cannot trace in this environment: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 0, proc.stderr
    return out.read_text(encoding="utf-8", errors="replace").splitlines()
