"""The pytest plugin (entry point ``pytest11``): socket-call snapshots of programs, one golden trace per check.

    def test_server(sctrace):
        sctrace.check("server1.php")                      # compared with __sctrace__/test_x/test_server.golden
        sctrace.check("server.py", client="client.py", level="stable", name="with_client")

Snapshot conventions follow syrupy's, which people know:

- snapshots live beside the test module, ``__sctrace__/<module>/<test>[.<name>].golden``; a test's
  second and later unnamed checks are ``<test>.1``, ``<test>.2``, ... (so adding a check at the end
  does not rename the others);
- ``pytest --sctrace-update`` writes missing snapshots and rewrites those whose bytes changed
  (never an unchanged one), and deletes unused ones;
- without it a missing snapshot fails, saying how to create it; a mismatch fails with the
  side-by-side difference (as ``sctrace compare`` prints it) in the assertion message;
- unused snapshots (of a test that ran and passed, or of a test that no longer exists) are
  reported at the end of the session.  They do not fail it (pytest-snapshot's choice, not
  syrupy's): a snapshot left behind is a chore, not a regression.  Tests that did not run, were
  deselected, skipped or failed keep theirs unreported, and a run limited to node ids
  (``pytest file.py::test``) reports no orphans, since it did not see every test.

Only pytest and the standard library are imported here: the plugin loads in every pytest run of
an environment where sctrace is installed, and must cost nothing there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Generator, Sequence

    from sctrace.golden.golden_file import Recording

SNAPSHOT_DIR = "__sctrace__"
SUFFIX = ".golden"
UPDATE_OPTION = "--sctrace-update"
_UNSAFE = re.compile(r"[^\w.\-\[\]=,+@]")  # what a snapshot's file name may not hold of a test id
_MAX_NAME = 200  # bytes of a file name (most file systems allow 255)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sctrace", "sctrace socket-call snapshots")
    group.addoption(UPDATE_OPTION, action="store_true", default=False,
                    help="write missing sctrace snapshots, rewrite changed ones and delete unused ones")


@dataclass
class _Snapshots:
    """What this session did with snapshots, for the summary at its end."""

    update: bool
    used: set[Path] = field(default_factory=set)
    created: list[Path] = field(default_factory=list)
    updated: list[Path] = field(default_factory=list)
    selected: dict[Path, set[str]] = field(default_factory=dict)  # test module -> its selected tests' stems
    deselected: dict[Path, set[str]] = field(default_factory=dict)
    passed: set[tuple[Path, str]] = field(default_factory=set)
    failed: set[tuple[Path, str]] = field(default_factory=set)
    unused: list[Path] = field(default_factory=list)
    deleted: list[Path] = field(default_factory=list)


_KEY = pytest.StashKey[_Snapshots]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_KEY] = _Snapshots(bool(config.getoption(UPDATE_OPTION)))


def snapshot_stem(item: pytest.Item) -> str:
    """The file-name stem of a test's snapshots: its id within the module, made safe for a file name."""
    within = item.nodeid.split("::", 1)[1] if "::" in item.nodeid else item.name
    return _safe(within.replace("::", "."))


def _safe(text: str) -> str:
    out = _UNSAFE.sub("_", text).lstrip(".") or "_"
    return out[:_MAX_NAME]


def _module_of(item: pytest.Item) -> Path | None:
    path = getattr(item, "path", None)
    return Path(path) if path is not None and Path(path).suffix == ".py" else None


def snapshot_dir(module: Path) -> Path:
    return module.parent / SNAPSHOT_DIR / module.stem


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash[_KEY]
    for item in items:
        module = _module_of(item)
        if module is not None:
            state.selected.setdefault(module, set()).add(snapshot_stem(item))


def pytest_deselected(items: Sequence[pytest.Item]) -> None:
    for item in items:
        module = _module_of(item)
        if module is not None:
            item.config.stash[_KEY].deselected.setdefault(module, set()).add(snapshot_stem(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    module = _module_of(item)
    if module is not None:
        state = item.config.stash[_KEY]
        key = (module, snapshot_stem(item))
        if report.failed or report.skipped:
            state.failed.add(key)
        elif report.when == "call" and report.passed:
            state.passed.add(key)
    return report


def _owner(name: str, stems: set[str]) -> str | None:
    """Which test a snapshot file belongs to: the longest stem it is named after."""
    found = [s for s in stems if name == s + SUFFIX or (name.startswith(s + ".") and name.endswith(SUFFIX))]
    return max(found, key=len) if found else None


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(_KEY, None)
    if state is None:
        return
    node_ids_given = any("::" in str(arg) for arg in session.config.args)
    for module, selected in state.selected.items():
        folder = snapshot_dir(module)
        if not folder.is_dir():
            continue
        known = selected | state.deselected.get(module, set())
        for path in sorted(folder.glob("*" + SUFFIX)):
            if path in state.used:
                continue
            owner = _owner(path.name, known)
            orphan = owner is None and not node_ids_given  # its test is gone (renamed, deleted)
            ran_clean = (module, owner) in state.passed and (module, owner) not in state.failed
            if orphan or (owner in selected and ran_clean):
                state.unused.append(path)
    if state.update:
        for path in state.unused:
            path.unlink(missing_ok=True)  # under pytest-xdist another worker may have been first
            state.deleted.append(path)
            for folder in (path.parent, path.parent.parent):
                try:
                    folder.rmdir()  # only when empty
                except OSError:
                    break


def _shown(path: Path, config: pytest.Config) -> str:
    try:
        return str(path.relative_to(config.rootpath))
    except ValueError:
        return str(path)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(_KEY, None)
    if state is None or not (state.created or state.updated or state.unused):
        return
    write = terminalreporter.write_line
    terminalreporter.section("sctrace snapshots")
    for what, paths in (("written", state.created), ("updated", state.updated), ("deleted (unused)", state.deleted)):
        if paths:
            write(f"{len(paths)} snapshot{'s' if len(paths) != 1 else ''} {what}: "
                  + ", ".join(_shown(p, config) for p in paths))
    if state.unused and not state.update:
        count = len(state.unused)
        write(f"{count} unused snapshot{'s' if count != 1 else ''} (pytest {UPDATE_OPTION} deletes "
              f"{'them' if count != 1 else 'it'}): " + ", ".join(_shown(p, config) for p in state.unused))


class SctraceSnapshot:
    """The ``sctrace`` fixture: ``check`` compares a program's socket calls with the test's snapshot,
    ``run`` returns them for a test that asserts on them itself."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request
        self._state = request.config.stash[_KEY]
        node = request.node
        self._module = _module_of(node) or Path(str(request.path))
        self._stem = snapshot_stem(node)
        self._unnamed = 0
        self._names: set[str] = set()

    def snapshot_path(self, name: str | None = None) -> Path:
        """Where the next check (with this name, or unnamed) keeps its snapshot."""
        if name is not None:
            suffix = "." + _safe(name)
        else:
            suffix = f".{self._unnamed}" if self._unnamed else ""
        return snapshot_dir(self._module) / f"{self._stem}{suffix}{SUFFIX}"

    def _where(self, program: str | None) -> str | None:
        """A relative program path beside the test module first, then in the rootdir, else as given (PATH)."""
        if program is None or Path(program).is_absolute():
            return program
        for base in (self._module.parent, self._request.config.rootpath):
            if (base / program).exists():
                return str(base / program)
        return program

    def run(self, program: str, *, client: str | None = None, server: str | None = None,
            send: bytes | str | None = None, reply: bytes | str | None = None, level: str = "semantic",
            args: Sequence[str] = (), timeout: float = 10.0) -> Recording:
        """Trace program (given its peer, as ``sctrace compare`` does) and return its trace and golden form
        (``.trace``: the trace value; ``.golden.lines()``: the normalized steps as compare shows them)."""
        __tracebackhide__ = True
        from sctrace.golden import golden_file as golden
        from sctrace.peer.driver import DriveOptions
        from sctrace.status import SctraceError

        defaults = DriveOptions()
        drive = DriveOptions(_bytes(send, defaults.send), _bytes(reply, defaults.reply), timeout,
                             client=self._where(client), server=self._where(server))
        trouble: str | None = None
        try:
            recording = golden.record(self._where(program) or program, list(args), level=level, drive=drive)
        except SctraceError as exc:
            trouble = exc.message
        if trouble is not None:
            pytest.fail(f"sctrace: {trouble}", pytrace=False)
        # The file names what the test wrote, not where this machine found it.
        found = recording.golden
        found.program, found.client, found.server = program, client, server
        if found.peer is not None:
            found.peer["program"] = client if client is not None else server
        return recording

    def check(self, program: str, *, client: str | None = None, server: str | None = None,
              send: bytes | str | None = None, reply: bytes | str | None = None, level: str = "semantic",
              name: str | None = None, args: Sequence[str] = (), timeout: float = 10.0) -> None:
        """Trace program and compare it with this test's snapshot (see the module's docstring)."""
        __tracebackhide__ = True
        from sctrace.golden import golden_file as golden
        from sctrace.status import SctraceError

        if name is not None and name in self._names:
            pytest.fail(f"sctrace: check name {name!r} used twice in this test; give each check its own name",
                        pytrace=False)
        path = self.snapshot_path(name)
        if name is None:
            self._unnamed += 1
        else:
            self._names.add(name)
        if path in self._state.used:
            pytest.fail(f"sctrace: snapshot {path.name} is already used by another check; give this one a name",
                        pytrace=False)
        self._state.used.add(path)
        shown = _shown(path, self._request.config)
        if not self._state.update and not path.exists():
            pytest.fail(f"sctrace: no snapshot {shown}; run pytest {UPDATE_OPTION} to create it", pytrace=False)
        expected, trouble = None, None
        if path.exists() and not self._state.update:
            try:
                expected = golden.load(path, shown)
                golden.check_level(expected, level, shown)
            except SctraceError as exc:
                trouble = exc.message
        if trouble is not None:  # failed here, not in the except block: the message is all there is to say
            pytest.fail(f"sctrace: {trouble}; or run pytest {UPDATE_OPTION} to record it again", pytrace=False)
        recording = self.run(program, client=client, server=server, send=send, reply=reply, level=level,
                             args=args, timeout=timeout)
        if self._state.update:
            self._write(path, recording.golden.dumps())
            return
        assert expected is not None
        self._compare(expected, shown, recording, program)

    def _write(self, path: Path, text: str) -> None:
        old = path.read_bytes() if path.exists() else None
        if old == text.encode("utf-8"):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        (self._state.updated if old is not None else self._state.created).append(path)

    def _compare(self, expected: Any, shown: str, recording: Recording, program: str) -> None:
        __tracebackhide__ = True
        import io

        from sctrace.compare.align import summarize
        from sctrace.compare.run import status_of
        from sctrace.golden import golden_file as golden
        from sctrace.render import COMPARE_RENDERERS, PLAIN

        comparison = golden.compare_goldens(expected, shown, recording.golden, program, recording.trace.header)
        if status_of(comparison) == 0:
            return
        table = io.StringIO()
        COMPARE_RENDERERS["text"](comparison, summarize(comparison), table, PLAIN)  # as wide as it needs
        raise AssertionError(f"sctrace: {program} no longer matches snapshot {shown} (if the change is meant, "
                             f"run pytest {UPDATE_OPTION}):\n{table.getvalue()}")


def _bytes(value: bytes | str | None, default: bytes) -> bytes:
    if value is None:
        return default
    return value.encode("utf-8") if isinstance(value, str) else value


@pytest.fixture
def sctrace(request: pytest.FixtureRequest) -> SctraceSnapshot:
    """Socket-call snapshots: ``sctrace.check(program, ...)`` and ``sctrace.run(program, ...)``."""
    return SctraceSnapshot(request)
