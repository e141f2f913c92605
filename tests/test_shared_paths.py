"""compare runs each side itself, even of one program, and sides that bind one UNIX socket file take turns.

`compare X X` ran X twice but showed the second run on both sides.  Two sides that bind the same
filesystem UNIX socket path collide whatever namespaces they have (the file system is shared): the
second bind failed with EADDRINUSE, and the run either failed after its timeout or compared a failed
run.  Now such sides run again, one after the other, and a notice says so.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.helpers import sctrace

BOTH_ENDS = """
import os, socket, signal, time
signal.alarm(10)
path = {path!r}
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(1)
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.connect(path)
a, _ = s.accept()
c.sendall(b"ping")
a.recv(4)
time.sleep(0.3)
for x in (a, c, s):
    x.close()
os.unlink(path)
"""


def _compare(left: Path, right: Path) -> tuple[int, dict[str, object], str]:
    proc = sctrace("compare", str(left), str(right), "--format", "json")
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def _binds(data: dict[str, object], side: str) -> list[tuple[object, object]]:
    rows = data["rows"]
    assert isinstance(rows, list)
    return [(r[side]["ret"], r[side]["errno"]) for r in rows if r.get(side) and r[side]["name"] == "bind"]


def test_each_side_of_one_program_is_its_own_run(tmp_path: Path) -> None:
    program = tmp_path / "both.py"
    program.write_text(BOTH_ENDS.format(path=str(tmp_path / "s.sock")))
    status, data, err = _compare(program, program)
    rows = data["rows"]
    assert isinstance(rows, list)
    pids = {(r["left"]["pid"], r["right"]["pid"]) for r in rows if r.get("left") and r.get("right")}
    assert all(left != right for left, right in pids), "one run shown on both sides"
    assert status == 0, err


def test_sides_that_bind_one_unix_socket_path_take_turns(tmp_path: Path) -> None:
    path = tmp_path / "shared.sock"
    left, right = tmp_path / "left.py", tmp_path / "right.py"
    left.write_text(BOTH_ENDS.format(path=str(path)))
    shutil.copy(left, right)
    status, data, err = _compare(left, right)
    assert status == 0, err
    assert _binds(data, "left") == [(0, None)] and _binds(data, "right") == [(0, None)]
    assert f"both bind the UNIX socket {path}, so they ran one after the other" in err
    assert not path.exists()
