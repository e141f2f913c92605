"""How a program is run: by its extension, with which interpreter, from which package.

Adding a language is one row of RUNNERS.  ``version_args`` print the
interpreter's version on stdout (recorded in the trace header); ``package`` is
what the error message tells the user to install (Debian's name).  A compiled
language names its compiler as the interpreter: sctrace/launch/compile.py builds the
program into a private directory before tracing, and the binary is what runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sctrace.status import ExitStatus, SctraceError

if TYPE_CHECKING:
    import subprocess


@dataclass(frozen=True)
class Runner:
    language: str
    interpreter: str
    package: str
    version_args: tuple[str, ...]
    compiled: bool = False  # the interpreter is a compiler: build first (sctrace/launch/compile.py), trace the binary


RUNNERS: dict[str, Runner] = {
    ".php": Runner("php", "php", "php-cli", ("-n", "-r", "echo PHP_VERSION;")),
    ".py": Runner("python", "python3", "python3", ("-S", "-c", "import sys; print(sys.version.split()[0])")),
    ".js": Runner("node", "node", "nodejs", ("-p", "process.versions.node")),
    ".pl": Runner("perl", "perl", "perl", ("-e", "print substr($^V, 1)")),
    ".rb": Runner("ruby", "ruby", "ruby", ("-e", "print RUBY_VERSION")),
    ".sh": Runner("bash", "bash", "bash", ("-c", "echo ${BASH_VERSION%%(*}")),
    # gcc (and clang) print their bare version for -dumpfullversion; build.py has the build commands.
    ".c": Runner("c", "cc", "gcc", ("-dumpfullversion",), compiled=True),
    ".go": Runner("go", "go", "golang-go", ("env", "GOVERSION"), compiled=True),
}


@dataclass
class Launch:
    """A resolved command: what to exec and how to describe it."""

    argv: list[str]
    path: str  # the file given to execv
    program: str
    language: str | None
    interpreter: str | None
    version_args: tuple[str, ...] = ()
    compiled: bool = False  # program is a source file: interpreter builds it (build.py), argv[0] and path follow

    def start_version_probe(self) -> subprocess.Popen[str] | None:
        """Ask the interpreter its version, in parallel with the trace (it is not traced)."""
        import subprocess  # here: the module costs 5 ms of start-up, and only a version probe needs it

        if not self.version_args or self.interpreter is None:
            return None
        try:
            return subprocess.Popen(
                [self.interpreter, *self.version_args],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            )
        except OSError:
            return None


def version_answer(probe: subprocess.Popen[str] | None) -> str | None:
    """What a version probe answered (None: nothing, or it failed: the version is a courtesy, never a failure)."""
    if probe is None:
        return None
    import subprocess

    try:
        out, _ = probe.communicate(timeout=5)
        return out.strip() or None
    except (subprocess.TimeoutExpired, OSError, ValueError):  # a probe that hangs or fails: no version
        probe.kill()
        probe.wait()
        return None
    except BaseException:  # a stop signal (the tracer's Interrupted) while waiting: the probe goes, the stop stays
        probe.kill()
        probe.wait()
        raise


def _is_executable_file(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _why_not_found(program: str) -> str:
    """What is wrong with a path that os.path.exists says is not there: often it is, but cannot be reached."""
    import errno

    try:
        os.stat(program)
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return (f"the path is longer than the system allows ({os.pathconf('/', 'PC_PATH_MAX')} bytes, or "
                    f"{os.pathconf('/', 'PC_NAME_MAX')} for one name); cd nearer to it and give a shorter path")
        if exc.errno in (errno.EACCES, errno.ELOOP, errno.ENOTDIR):
            return f"cannot reach it ({exc.strerror}); check the path and its directories' permissions"
    return "no such file or command; check the path"


def resolve(program: str, args: list[str], interpreter: str | None = None) -> Launch:
    """Decide how to run ``program``; raise SctraceError with advice when we cannot."""
    if not os.path.exists(program):
        found = which(program) if os.sep not in program else None
        if found is None:
            raise SctraceError(f"{program}: {_why_not_found(program)}", ExitStatus.NO_PROGRAM)
        return Launch([program, *args], found, program, None, None)
    if os.path.isdir(program):
        raise SctraceError(f"{program} is a directory; give a program file", ExitStatus.NO_PROGRAM)
    ext = os.path.splitext(program)[1].lower()
    runner = RUNNERS.get(ext)
    if interpreter is not None:
        interp_path = which(interpreter)
        if interp_path is None:
            raise SctraceError(f"interpreter {interpreter} not found; check --interpreter", ExitStatus.NO_INTERPRETER)
        language = runner.language if runner else None
        version = runner.version_args if runner else ()
        if runner is not None and runner.compiled:  # --interpreter names the compiler
            return Launch([program, *args], program, program, language, interp_path, version, compiled=True)
        return Launch([interpreter, program, *args], interp_path, program, language, interp_path, version)
    if runner is not None:
        interp_path = which(runner.interpreter)
        if interp_path is None:
            raise SctraceError(
                f"{runner.interpreter} not found, needed for {program}; install {runner.package} "
                f"(apt-get install {runner.package}) or give --interpreter PATH",
                ExitStatus.NO_INTERPRETER,
            )
        if runner.compiled:
            return Launch([program, *args], program, program, runner.language, interp_path, runner.version_args,
                          compiled=True)
        return Launch(
            [runner.interpreter, program, *args], interp_path, program, runner.language, interp_path,
            runner.version_args,
        )
    if not os.access(program, os.R_OK):
        raise SctraceError(f"{program}: permission denied; make it readable", ExitStatus.NO_PROGRAM)
    if _is_executable_file(program):
        path = program if os.sep in program else os.path.join(".", program)
        return Launch([path, *args], path, program, None, None)
    known = ", ".join(sorted(RUNNERS))
    what = f"extension {ext}" if ext else "no extension"
    raise SctraceError(
        f"{program} has {what} and is not executable; use one of {known}, chmod +x it, "
        "or give --interpreter PATH",
        ExitStatus.NO_PROGRAM,
    )


def which(name: str) -> str | None:
    """shutil.which, imported when first needed (shutil pulls in compression modules at start-up)."""
    import shutil

    return shutil.which(name)
