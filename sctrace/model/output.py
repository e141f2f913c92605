"""Writing what the user asked for, and nothing else.

Two promises live here:

- A file written whole (a golden trace) replaces only a regular file, atomically
  through a temporary file and a rename.  Anything else at the path (a device such
  as /dev/null, a FIFO, a symlink, a file with other hard links) is written in
  place, as ``trace -o`` and strace do, so the thing itself stays what it was.
- An output that is also one of the command's inputs is refused before anything
  runs or is written: ``compare a.jsonl b.jsonl -o a.jsonl`` would otherwise
  destroy its own input.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterable

from sctrace.status import ExitStatus, SctraceError


def write_whole(path: str, text: str) -> None:
    """Write text to path whole or not at all where path is a regular file (or nothing yet); in place otherwise.

    SctraceError (status 73) when it cannot be written.
    """
    try:
        if _replaceable(path):
            _replace(path, text)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    except OSError as exc:
        raise SctraceError(f"cannot write {path}: {exc.strerror or exc}; choose another -o FILE",
                           ExitStatus.CANNOT_WRITE) from None


def _replaceable(path: str) -> bool:
    """Whether a rename over path loses nothing: it does not exist, or it is a regular file with one name."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True
    return stat.S_ISREG(st.st_mode) and st.st_nlink == 1


def _replace(path: str, text: str) -> None:
    directory = os.path.dirname(path) or "."
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=directory, prefix=".sctrace-", suffix=".tmp",
                                     delete=False) as f:
        temporary = f.name
        try:
            f.write(text)
        except BaseException:
            os.unlink(temporary)
            raise
    try:
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # as open() would have made it, not the temporary file's 0600
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def refuse_inputs(output: str | os.PathLike[str] | None, inputs: Iterable[tuple[str | None, str]],
                  option: str = "-o FILE") -> None:
    """SctraceError (status 2) when output is the same file as one of inputs ((path or command, what it is))."""
    if output is None or str(output) == "-":
        return
    try:
        written = os.stat(output)
    except OSError:
        return  # nothing there yet (or nothing we can see): it cannot be an input
    for given, what in inputs:
        path = _input_path(given)
        if path is None:
            continue
        try:
            if os.path.samestat(written, os.stat(path)):
                raise SctraceError(f"{option.split()[0]} {os.fspath(output)} is also the {what}; writing it would "
                                   f"destroy it: choose another {option}", ExitStatus.USAGE)
        except OSError:
            continue


def _input_path(given: str | None) -> str | None:
    """The file an input names: a path, or a command found on PATH."""
    if not given:
        return None
    if os.sep in given or os.path.exists(given):
        return given
    return shutil.which(given)
