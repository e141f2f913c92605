"""sctrace run by an ordinary user, as a student would run it: `nobody`, with the system's python3.

The tests run as root (as CI does) and drop to uid and gid 65534 with setpriv for each command.
The user gets a virtual environment made with /usr/bin/python3 (the interpreter running these tests
may live where nobody cannot read it, e.g. pyenv under /root), holding copies of sctrace's
dependencies as installed here and a copy of the package and the fixtures it runs, in a directory
nobody can read (the checkout may not be readable by nobody). Nothing is downloaded.

Where the kernel lets an ordinary user make user namespaces, each program runs in a network namespace
of its own as it does for root. Where it does not, the sides run one after the other on the host's
loopback, and a port in use there is reported as the surroundings' fault. That case is made real, not
imitated: root makes a user namespace whose user.max_user_namespaces is 0 (the limit is kept per user
namespace, and root inside may set its own), maps every uid into it, and drops to nobody there. The
kernel then refuses nobody any namespace, exactly as on a machine that forbids them.
"""

from __future__ import annotations

import importlib.metadata as metadata
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = Path("/usr/bin/python3")
SETPRIV = shutil.which("setpriv")
UNSHARE = shutil.which("unshare")
NOBODY = 65534
AS_NOBODY = [f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
SEED = "fixtures/seed"
# What the user's copy holds, beside the package: the programs the tests run.
FIXTURES = [f"{SEED}/server1.php", f"{SEED}/server1.py", f"{SEED}/client1.py", "fixtures/trace/tcp_states.py",
            "fixtures/trace/addrinuse.py"]
# Distributions copied into the user's environment with what they require: sctrace's own, and pytest
# for the fixture's test.
DISTRIBUTIONS = ["python-ptrace", "typer", "click", "pytest"]

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="these tests drop from root to nobody; run them as root (CI does)"),
    pytest.mark.skipif(SETPRIV is None, reason="setpriv (util-linux) is needed to drop to nobody"),
    pytest.mark.skipif(not SYSTEM_PYTHON.exists(), reason="the system's /usr/bin/python3 is not installed"),
]

# Run as root: a user namespace where every uid and gid up to 65535 is itself and no user namespace may be
# made (user.max_user_namespaces 0), then exec the command. The maps are written by a child that stays
# outside: a process inside may map only its own uid.
FORBID = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(w)
    os.read(r, 1)
    for name in ("uid_map", "gid_map"):
        with open(f"/proc/{os.getppid()}/{name}", "w") as f:
            f.write("0 0 65536")
    os._exit(0)
os.close(r)
if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
    print("cannot make a user namespace:", os.strerror(ctypes.get_errno()), file=sys.stderr)
    sys.exit(125)
os.close(w)
if os.waitpid(pid, 0)[1] != 0:
    sys.exit(125)
with open("/proc/sys/user/max_user_namespaces", "w") as f:
    f.write("0")
os.execvp(sys.argv[1], sys.argv[1:])
"""


@dataclass
class Setup:
    base: Path  # mode 755, removed at the end of the session
    python: Path  # the user's environment's interpreter
    work: Path  # the programs (root's, readable by all): every command runs here
    out: Path  # nobody's: where commands write

    def env(self) -> dict[str, str]:
        return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.out), "LANG": "C.UTF-8",
                "PYTHONDONTWRITEBYTECODE": "1"}

    def command(self, *args: str, as_nobody: bool = True, forbid: bool = False) -> list[str]:
        cmd = [str(self.python), "-m", "sctrace", *args]
        if as_nobody:
            assert SETPRIV is not None
            cmd = [SETPRIV, *AS_NOBODY, *cmd]
        if forbid:
            cmd = [str(SYSTEM_PYTHON), "-c", FORBID, *cmd]
        return cmd

    def run(self, *args: str, as_nobody: bool = True, forbid: bool = False,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(*args, as_nobody=as_nobody, forbid=forbid), cwd=self.work,
                              env=self.env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)


def _requirements(dist: metadata.Distribution) -> list[str]:
    names = []
    for req in dist.requires or []:
        if "extra ==" not in req:
            names.append(re.split(r"[\s;<>=!~\[(]", req, maxsplit=1)[0])
    return names


def _copy_distributions(names: list[str], site: Path) -> None:
    """Copy the installed files of these distributions, and of all they require, into site."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # required only where a marker holds (another Python version), so not installed here
        todo.extend(_requirements(dist))
        for file in dist.files or []:
            source = Path(str(dist.locate_file(file)))
            if ".." in file.parts or "__pycache__" in file.parts or not source.is_file():
                continue  # scripts outside site-packages, compiled files of another interpreter
            target = site / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


@pytest.fixture(scope="session")
def setup() -> Iterator[Setup]:
    base = Path(tempfile.mkdtemp(prefix="sctrace-rootless-", dir="/tmp"))
    try:
        base.chmod(0o755)
        venv = base / "venv"
        subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", "--without-pip", str(venv)], check=True,
                       capture_output=True, timeout=120)
        python = venv / "bin" / "python"
        version = subprocess.run([str(python), "-c", "import sys; print(sys.version_info >= (3, 10))"],
                                 capture_output=True, text=True, timeout=60).stdout.strip()
        if version != "True":
            pytest.skip(f"the system's {SYSTEM_PYTHON} is older than 3.10, which sctrace needs")
        purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 check=True, capture_output=True, text=True, timeout=60).stdout.strip()
        _copy_distributions(DISTRIBUTIONS, Path(purelib))
        shutil.copytree(ROOT / "sctrace", base / "src" / "sctrace", ignore=shutil.ignore_patterns("__pycache__"))
        (Path(purelib) / "sctrace-source.pth").write_text(str(base / "src") + "\n")
        work = base / "work"
        for name in FIXTURES:
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, work / name)
        out = base / "out"
        out.mkdir()
        os.chown(out, NOBODY, NOBODY)
        for path in [base, *base.rglob("*")]:
            if path != out and not path.is_symlink():  # a link's mode is its target's: the system's python
                path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
        made = Setup(base, python, work, out)
        proc = subprocess.run(made.command("--help"), cwd=work, env=made.env(), capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, f"sctrace does not start as nobody: {proc.stderr}"
        yield made
    finally:
        shutil.rmtree(base)


def _whoami(setup: Setup, forbid: bool = False) -> dict[str, str]:
    """The user's id and capabilities as the kernel tells them (a check that the drop really happened)."""
    assert SETPRIV is not None
    code = "import os; print(os.getuid(), os.getgid(), os.getgroups()); print(open('/proc/self/status').read())"
    cmd = [SETPRIV, *AS_NOBODY, str(setup.python), "-c", code]
    if forbid:
        cmd = [str(SYSTEM_PYTHON), "-c", FORBID, *cmd]
    proc = subprocess.run(cmd, env=setup.env(), capture_output=True, text=True, timeout=60)
    if forbid and proc.returncode == 125:
        pytest.skip(f"root may not make a user namespace here to forbid them to nobody: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    first, status = proc.stdout.split("\n", 1)
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    fields["ids"] = first
    return fields


@pytest.fixture(scope="session")
def namespaces(setup: Setup) -> Setup:
    """The setup, where an ordinary user may make user namespaces (util-linux's `unshare -rn` tells)."""
    me = _whoami(setup)
    assert me["ids"] == f"{NOBODY} {NOBODY} []" and int(me["CapEff"], 16) == 0, me
    if UNSHARE is None:
        pytest.skip("unshare (util-linux) is needed to tell whether an ordinary user may make user namespaces")
    assert SETPRIV is not None
    proc = subprocess.run([SETPRIV, *AS_NOBODY, UNSHARE, "-rn", "true"], env=setup.env(), capture_output=True,
                          text=True, timeout=60)
    if proc.returncode != 0:
        pytest.skip(f"this kernel does not let an ordinary user make user namespaces (`unshare -rn true` as "
                    f"nobody: {proc.stderr.strip()}); see README.md, \"Without root\"")
    return setup


def _compare_json(setup: Setup, *args: str, as_nobody: bool = True) -> dict[str, Any]:
    proc = setup.run("compare", "--format", "json", *args, as_nobody=as_nobody)
    return _seed_compared(proc.returncode, proc.stdout, proc.stderr)


def _seed_compared(status: int, stdout: str, stderr: str) -> dict[str, Any]:
    """The comparison of the seed servers, checked to be one where both served: each in a namespace of its own."""
    assert status == 0, stdout + stderr
    assert stderr == "", "no notice: each side had a namespace of its own"
    result: dict[str, Any] = json.loads(stdout)
    assert result["equivalent"] is True
    # Two servers that both failed to bind would be equivalent too: both served, and exited with 0.
    assert [result[side]["exit"] for side in ("left", "right")] == [{"code": 0}, {"code": 0}]
    names = [r["left_step"]["name"] for r in result["rows"] if r["left_step"]]
    assert names[:4] == ["socket", "bind", "listen", "accept"], names
    return result


def _rows(comparison: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(r["verdict"], r["rule"], r["detail"], r["left_step"], r["right_step"]) for r in comparison["rows"]]


SEED_PAIR = (f"{SEED}/server1.php", f"{SEED}/server1.py")


def test_seed_demo_as_nobody_gives_roots_answer(namespaces: Setup) -> None:
    if shutil.which("php") is None:
        pytest.skip("php is not installed (scripts/setup.sh installs php-cli)")
    as_nobody = _compare_json(namespaces, *SEED_PAIR)
    as_root = _compare_json(namespaces, *SEED_PAIR, as_nobody=False)
    assert _rows(as_nobody) == _rows(as_root)
    assert as_nobody["rows"][1]["left_step"]["text"] == "bind(L1, {AF_INET, 0.0.0.0:PORT1}, 16) = 0"


@pytest.mark.parametrize("options", [["--backend", "strace"], ["--client", f"{SEED}/client1.py"]],
                         ids=["strace-backend", "explicit-client"])
def test_other_ways_to_run_a_side_as_nobody(namespaces: Setup, options: list[str]) -> None:
    """strace in the namespace (this process drives the peer); a --client traced in its side's namespace."""
    if shutil.which("php") is None:
        pytest.skip("php is not installed (scripts/setup.sh installs php-cli)")
    if options[1] == "strace" and shutil.which("strace") is None:
        pytest.skip("strace is not installed (scripts/setup.sh installs it)")
    as_nobody = _compare_json(namespaces, *options, *SEED_PAIR)
    as_root = _compare_json(namespaces, *options, *SEED_PAIR, as_nobody=False)
    # The same rows; their order may differ where the peer's calls and the side's race (a getsockname
    # after accept and the client's send), whoever runs them.
    assert sorted(map(repr, _rows(as_nobody))) == sorted(map(repr, _rows(as_root)))
    if options[0] == "--client":
        assert as_nobody["left"]["peer"]["exit"] == {"code": 0}


def test_states_as_nobody(namespaces: Setup) -> None:
    """sock_diag is asked inside each program's namespace, by the tracer that holds the capabilities."""
    if shutil.which("php") is None:
        pytest.skip("php is not installed (scripts/setup.sh installs php-cli)")
    comparison = _compare_json(namespaces, "--states", *SEED_PAIR)
    for side in ("left", "right"):
        events = [(r[f"{side}_step"]["name"], r[side]) for r in comparison["rows"] if r[side] is not None]
        states = [(name, ev.get("tcp_state")) for name, ev in events]
        assert ("listen", "LISTEN") in states and ("accept", "ESTABLISHED") in states, states
        assert states[-1][0] == "close" and states[-1][1] in ("FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT"), states


def _tcp_flags(frame: bytes) -> str:
    """The TCP flags of an Ethernet frame holding IPv4 TCP, as tcpdump writes them (S, S., .)."""
    ihl = (frame[14] & 0x0F) * 4
    flags = frame[14 + ihl + 13]
    text = "".join(c for bit, c in ((0x02, "S"), (0x01, "F"), (0x04, "R"), (0x08, "P")) if flags & bit)
    return text + "." if flags & 0x10 else text


def test_trace_states_packets_and_pcap_as_nobody(namespaces: Setup) -> None:
    """The whole life of a connection, LISTEN to TIME_WAIT, and its packets: captured for nobody."""
    out = namespaces.out / "states.jsonl"
    pcap = namespaces.out / "states.pcap"
    proc = namespaces.run("trace", "--states", "--packets", "--pcap", str(pcap), "-f", "jsonl", "-o", str(out),
                          "fixtures/trace/tcp_states.py")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", "no notice: a namespace, states and packets"
    events = [json.loads(line) for line in out.read_text().splitlines()[1:]]
    calls = {e["name"]: e.get("tcp_state") for e in events if e["type"] == "syscall"}
    assert calls["listen"] == "LISTEN" and calls["accept4"] == "ESTABLISHED"
    assert [e["tcp_state"] for e in events if e["type"] == "state"][-1:] == ["TIME_WAIT"]
    handshake = [e["summary"] for e in events if e["type"] == "packet"][:3]
    assert [re.findall(r"Flags \[([^\]]*)\]", s) for s in handshake] == [["S"], ["S."], ["."]], handshake
    data = pcap.read_bytes()
    magic, major, minor, linktype = struct.unpack_from("=IHH12xI", data)
    assert (magic, major, minor, linktype) == (0xA1B23C4D, 2, 4, 1)  # pcap, nanoseconds, Ethernet
    frames, offset = [], 24
    while offset < len(data):
        caplen = struct.unpack_from("<I", data, offset + 8)[0]
        frames.append(data[offset + 16:offset + 16 + caplen])
        offset += 16 + caplen
    assert [_tcp_flags(f) for f in frames[:3]] == ["S", "S.", "."]
    assert len(frames) == len([e for e in events if e["type"] == "packet"])


# Prints what the program is in its namespaces: ids, capabilities, maps, and whether it is the host's loopback.
WHOAMI = """import os
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
print(os.getuid(), os.getgid(), int(status["CapEff"], 16), int(status["CapPrm"], 16))
print(" ".join(open("/proc/self/uid_map").read().split()), "/", " ".join(open("/proc/self/gid_map").read().split()))
print(open("/proc/self/setgroups").read().strip(), os.path.exists(os.path.expanduser("~")))
print(os.readlink("/proc/self/ns/net"))
"""


def test_the_program_runs_as_itself_and_the_tracer_holds_the_capabilities(namespaces: Setup) -> None:
    """--packets puts the program in a namespace: it keeps nobody's ids, home and files, and has no capability."""
    program = namespaces.out / "whoami.py"
    program.write_text(WHOAMI)
    os.chown(program, NOBODY, NOBODY)
    proc = namespaces.run("trace", "--packets", "-o", "/dev/null", str(program))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", "no notice: the namespace was made and the capture opened"
    ids, maps, groups, net = proc.stdout.splitlines()
    assert ids == f"{NOBODY} {NOBODY} 0 0"
    assert maps == f"{NOBODY} {NOBODY} 1 / {NOBODY} {NOBODY} 1"
    assert groups == "deny True"
    assert net != os.readlink("/proc/self/ns/net"), "a network namespace of its own, not the host's"


def test_two_comparisons_at_once_do_not_collide(namespaces: Setup) -> None:
    """Four servers of port 1234 at once, two by two: each has a loopback of its own."""
    if shutil.which("php") is None:
        pytest.skip("php is not installed (scripts/setup.sh installs php-cli)")
    procs = [subprocess.Popen(namespaces.command("compare", "--format", "json", *SEED_PAIR), cwd=namespaces.work,
                              env=namespaces.env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [proc.communicate(timeout=120) for proc in procs]
    for proc, (stdout, stderr) in zip(procs, results, strict=True):
        _seed_compared(proc.returncode, stdout, stderr)


def test_golden_files_cross_between_root_and_nobody(namespaces: Setup) -> None:
    if shutil.which("php") is None:
        pytest.skip("php is not installed (scripts/setup.sh installs php-cli)")
    by_root = namespaces.out / "by_root.golden"
    by_nobody = namespaces.out / "by_nobody.golden"
    proc = namespaces.run("record", SEED_PAIR[0], "-o", str(by_root), as_nobody=False)
    assert proc.returncode == 0, proc.stderr
    proc = namespaces.run("record", SEED_PAIR[0], "-o", str(by_nobody))
    assert proc.returncode == 0, proc.stderr
    assert by_nobody.read_text() == by_root.read_text()
    assert "listen(L1, 5) = 0" in by_root.read_text()
    for golden, as_nobody in ((by_root, True), (by_nobody, False)):
        proc = namespaces.run("check", SEED_PAIR[1], str(golden), as_nobody=as_nobody)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "matches" in proc.stdout


def test_pytest_fixture_as_nobody(namespaces: Setup) -> None:
    """A snapshot made by nobody passes for root, and root's is byte for byte the same and passes for nobody."""
    if shutil.which("php") is None:
        pytest.skip("php is not installed (scripts/setup.sh installs php-cli)")
    tests = namespaces.out / "plugin"
    tests.mkdir()
    (tests / "test_seed.py").write_text("def test_server1(sctrace):\n    sctrace.check('server1.php')\n")
    shutil.copy2(ROOT / SEED / "server1.php", tests / "server1.php")
    for path in (tests, tests / "test_seed.py", tests / "server1.php"):
        os.chown(path, NOBODY, NOBODY)

    def pytest_as(as_nobody: bool, *args: str) -> str:
        cmd = [str(namespaces.python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
               "sctrace.golden.pytest_plugin", "--rootdir", str(tests), *args, str(tests / "test_seed.py")]
        if as_nobody:
            assert SETPRIV is not None
            cmd = [SETPRIV, *AS_NOBODY, *cmd]
        proc = subprocess.run(cmd, cwd=tests, env=namespaces.env(), stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=180)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    snapshot = tests / "__sctrace__" / "test_seed" / "test_server1.golden"
    pytest_as(True, "--sctrace-update")
    made_by_nobody = snapshot.read_bytes()
    assert b"bind(" in made_by_nobody and snapshot.stat().st_uid == NOBODY
    assert "1 passed" in pytest_as(False)
    pytest_as(False, "--sctrace-update")
    assert snapshot.read_bytes() == made_by_nobody
    assert "1 passed" in pytest_as(True)


# -- no namespace at all ------------------------------------------------------------------------------------

def test_without_namespaces_a_port_in_use_is_the_surroundings_fault(setup: Setup) -> None:
    """The seed servers one after the other on the host's loopback: the second meets the first's TIME_WAIT
    on port 1234 (server1 closes first), or both meet an earlier run's. Not a difference: an error, status 2."""
    if shutil.which("php") is None:
        pytest.skip("php is not installed (scripts/setup.sh installs php-cli)")
    me = _whoami(setup, forbid=True)
    assert me["ids"] == f"{NOBODY} {NOBODY} []" and int(me["CapEff"], 16) == 0, me
    proc = setup.run("compare", *SEED_PAIR, forbid=True)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("sctrace: error: fixtures/seed/server1.p")
    assert "bind failed with EADDRINUSE: port 1234 is in use on this machine's loopback" in lines[0]
    assert "no network namespace may be made here" in lines[0] and "Without root" in lines[0]


def test_without_namespaces_a_programs_own_collision_is_compared(setup: Setup) -> None:
    """addrinuse.py binds a port it holds itself: its EADDRINUSE is its own, and the sides, one after the
    other, are compared as usual (with a notice that they shared the host's loopback)."""
    _whoami(setup, forbid=True)
    proc = setup.run("compare", "fixtures/trace/addrinuse.py", "fixtures/trace/addrinuse.py", forbid=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "bind(" in proc.stdout and "EADDRINUSE" in proc.stdout
    assert proc.stderr.splitlines()[0] == ("sctrace: no network namespace may be made here: the programs run one "
                                           "after the other on the host's loopback (see \"Without root\" in README.md)")
