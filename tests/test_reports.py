"""The lecture reports: ``--format html`` and ``--format mermaid`` of trace and compare, and ``sctrace demo``.

Real programs run under the real sctrace (ptrace) in every test here, hostile ones among them: a
program whose file name and payloads are HTML, Mermaid syntax, terminal escapes and a bidi
override.  The HTML is read back with an HTML parser always, and with a real browser (Debian's
chromium, headless) when it is installed: a screenshot must show something and the browser's DOM
must hold no element the payload tried to inject.  The Mermaid is checked against the grammar's
statements always, and drawn by Mermaid itself in the browser when SCTRACE_MERMAID_JS names a
mermaid.min.js (from ``npm install mermaid``).
"""

from __future__ import annotations

import html
import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sctrace.cli.demo import LECTURE_OPTIONS, demo_argv, seed_programs
from sctrace.model.escape import escape_for_terminal
from sctrace.render.html_style import CSS
from sctrace.render.mermaid import mm_text
from sctrace.status import ExitStatus, SctraceError
from tests.helpers import PYTHON, ROOT, SEED, needs_php, sctrace

CHROMIUM = shutil.which("chromium")
# The flags that work for a root, headless, offline Chromium (/work/.library/env/machines/python.md).
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (apt-get install chromium; scripts/setup.sh installs it when "
           "SCTRACE_BROWSER_TESTS=1)")

HOSTILE_NAME = 'evil<b onmouseover=alert(3)>\x1b[31m\u202e;#"%%.py'
# A program that is its own client and server, sending markup, Mermaid syntax, escapes and a bidi override.
HOSTILE_PROGRAM = r'''
import os, socket, sys
PAYLOAD = (b'<script>alert(1)</script></style><img src=x onerror=alert(2)>\x1b[2J\x07"\';#quot;'
           b'%%{init: {"theme":"dark"}}%%\nNote over P1: pwned\n-->> end \xe2\x80\xae|`*_[x](y)')
lsn = socket.socket()
lsn.bind(("127.0.0.1", 0))
lsn.listen(1)
cli = socket.socket()
cli.connect(lsn.getsockname())
cli.sendall(PAYLOAD)
conn, _ = lsn.accept()
data = b""
while len(data) < len(PAYLOAD):
    data += conn.recv(4096)
conn.sendall(data[::-1])
got = b""
while len(got) < len(PAYLOAD):
    got += cli.recv(4096)
os.chdir(os.path.dirname(os.path.abspath(__file__)))
u = socket.socket(socket.AF_UNIX)
u.bind('u<svg onload=alert(4)>\x1b[2J\u202e;#\n.sock')
for s in (u, conn, cli, lsn):
    s.close()
sys.exit(0 if got == PAYLOAD[::-1] else 1)
'''
# The tags and attributes a report is made of: anything else came from a payload.
REPORT_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "b", "span", "div", "ul",
               "li", "table", "colgroup", "col", "thead", "tbody", "tr", "th", "td", "code", "section", "footer"}
REPORT_ATTRIBUTES = {"lang", "charset", "name", "content", "http-equiv", "class", "title"}


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    program = tmp_path / HOSTILE_NAME
    program.write_text(HOSTILE_PROGRAM)
    return program


class Elements(HTMLParser):
    """Every element and attribute of a page, and the text of its <style> elements."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: set[str] = set()
        self.styles: list[str] = []
        self.text: list[str] = []
        self._in_style = False
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.update(name for name, _ in attrs)
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        (self.styles if self._in_style else self.text).append(data)


def assert_inert_html(page: str) -> Elements:
    for raw in ("\x1b", "\x07", "\u202e", "<script", "<img", "</style><"):
        assert raw not in page, raw
    parsed = Elements(page)
    assert set(parsed.tags) <= REPORT_TAGS, set(parsed.tags) - REPORT_TAGS
    assert parsed.attributes <= REPORT_ATTRIBUTES, parsed.attributes - REPORT_ATTRIBUTES
    assert parsed.styles == [CSS]  # the payload's </style> closed nothing
    assert parsed.tags.count("style") == 1
    return parsed


# -- HTML ---------------------------------------------------------------------------------------------

def test_trace_html_of_a_hostile_program(tmp_path: Path, hostile: Path) -> None:
    report = tmp_path / "report.html"
    proc = sctrace("trace", "-s", "512", "--format", "html", "-o", str(report), "--interpreter", PYTHON, str(hostile))
    assert proc.returncode == 0, proc.stderr
    page = report.read_text()
    parsed = assert_inert_html(page)
    text = "".join(parsed.text)
    # What the payload says is there, as text, exactly as the terminal output would show it.
    assert "<script>alert(1)</script></style><img src=x onerror=alert(2)>" in text
    assert escape_for_terminal(str(hostile)) in text  # the program's name: ESC and U+202E made visible
    assert "u<svg onload=alert(4)>" in text  # the UNIX socket's path
    assert html.escape("<b onmouseover=alert(3)>") in page
    # The lecture view: explanations and the timeline.
    assert "listen: the socket becomes passive (it accepts connections); backlog 1, capped by " \
           "net.core.somaxconn" in text
    assert re.search(r"bind: the socket gets the name u<svg onload=alert\(4\)>\\33\[2J", text)
    assert "exited with 0" in text
    assert page.startswith("<!DOCTYPE html>") and "http://" not in page and "https://" not in page


@needs_php
def test_compare_html_of_the_seed_servers(tmp_path: Path) -> None:
    report = tmp_path / "compare.html"
    proc = sctrace("compare", "--format", "html", "-o", str(report), str(SEED / "server1.php"),
                   str(SEED / "server1.py"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    page = report.read_text()
    parsed = assert_inert_html(page)
    text = "".join(parsed.text)
    assert '<div class="banner equivalent">semantically equivalent' in page
    rows = re.findall(r'<tr class="v-(\w+)"><td class="n">(\d+)</td>', page)
    assert [verdict for verdict, _ in rows] == ["equivalent", "same", "same", "equivalent", "info", "same",
                                                "equivalent", "same", "same"]
    assert text.count("listen: the socket becomes passive (it accepts connections); backlog 5, capped by "
                      "net.core.somaxconn") == 4  # both columns, both timelines
    assert "rules: send_is_write" in text
    assert "accept4: takes the next completed connection" in text
    assert "counts: same 5, equivalent 3, changed 0, left only 0, right only 0, info 1" in " ".join(text.split())


def test_compare_html_is_inert_with_hostile_programs(tmp_path: Path, hostile: Path) -> None:
    report = tmp_path / "compare.html"
    proc = sctrace("compare", "--format", "html", "-o", str(report), str(hostile),
                   str(ROOT / "fixtures" / "trace" / "tcp4_echo.py"))
    assert proc.returncode == 1, proc.stderr  # different
    page = report.read_text()
    parsed = assert_inert_html(page)
    assert '<div class="banner different">' in page
    assert escape_for_terminal(str(hostile)) in "".join(parsed.text)


def test_a_program_without_socket_calls(tmp_path: Path) -> None:
    program = tmp_path / "quiet.py"
    program.write_text("print('no sockets here')\n")
    page, diagram = tmp_path / "quiet.html", tmp_path / "quiet.mmd"
    for fmt, out in (("html", page), ("mermaid", diagram)):
        proc = sctrace("trace", "--format", fmt, "-o", str(out), "--interpreter", PYTHON, str(program))
        assert proc.returncode == 0, proc.stderr
    assert "<p>No socket calls.</p>" in page.read_text() and "<p>0 socket calls.</p>" in page.read_text()
    lines = diagram.read_text().splitlines()
    check_mermaid_lines(lines)
    assert lines[-2:] == ["    participant P1 as quiet.py", "    Note over P1: no socket calls"]


# -- the timeline with TCP states and packets -----------------------------------------------------------

def saved_trace(tmp_path: Path, fixture: str, *extra: str) -> Path:
    out = tmp_path / (fixture + ".jsonl")
    proc = sctrace("trace", *extra, "--format", "jsonl", "-o", str(out), "--interpreter", PYTHON,
                   str(ROOT / "fixtures" / "trace" / fixture))
    assert proc.returncode == 0, proc.stderr
    return out


def lecture_options() -> list[str]:
    """--states and --packets, where this sctrace's trace has them (they are being added alongside)."""
    helptext = sctrace("trace", "--help").stdout
    return [opt for opt in LECTURE_OPTIONS if opt in helptext]


def test_trace_timeline_shows_states_and_packets(tmp_path: Path) -> None:
    options = lecture_options()
    if options != list(LECTURE_OPTIONS):
        pytest.skip("this sctrace trace has no --states/--packets")
    report = tmp_path / "echo.html"
    proc = sctrace("trace", *options, "--format", "html", "-o", str(report), "--interpreter", PYTHON,
                   str(ROOT / "fixtures" / "trace" / "tcp4_echo.py"))
    assert proc.returncode == 0, proc.stderr
    page = report.read_text()
    assert_inert_html(page)
    assert '<span class="state" title="TCP state after the call">LISTEN</span>' in page
    assert re.search(r"is now TIME_WAIT</td>", page)
    flags = re.findall(r'<tr class="packet self( \w+)?">.*?<code>Flags \[([^\]]*)\]', page)
    assert [f for _, f in flags][:3] == ["S", "S.", "."]  # the handshake, in time order
    assert [kind for kind, _ in flags][:2] == [" syn", " syn"]
    assert "F." in [f for _, f in flags]
    # The handshake lies between connect's entry and its record: the timeline is ordered by time.
    connect = page.index("connect(4&lt;TCP")
    syn = page.index("<code>Flags [S], seq")
    assert connect < syn


def test_compare_timeline_from_saved_traces_with_states_and_packets(tmp_path: Path) -> None:
    """Where the comparison keeps each side's whole trace (``side.trace``), its packets and states are shown."""
    from sctrace.compare.align import summarize
    from sctrace.compare.run import compare
    from sctrace.model.trace import Trace
    from sctrace.peer.driver import DriveOptions
    from sctrace.render.html import compare_page
    from sctrace.render.mermaid import compare_diagram

    options = lecture_options()
    if options != list(LECTURE_OPTIONS):
        pytest.skip("this sctrace trace has no --states/--packets")
    left, right = saved_trace(tmp_path, "tcp4_echo.py", *options), saved_trace(tmp_path, "dup_write.py", *options)
    comparison = compare(str(left), str(right), level="semantic", drive=DriveOptions())
    for side, path in ((comparison.left, left), (comparison.right, right)):
        if getattr(side, "trace", None) is None:
            side.trace = Trace.load(path)
    page = compare_page(comparison, summarize(comparison))
    assert_inert_html(page)
    sides = page.split('<section class="side">')
    assert len(sides) == 3
    for section in sides[1:]:
        assert "<code>Flags [S], seq" in section and "<code>Flags [F.], seq" in section
    assert 'title="TCP state after the call">ESTABLISHED</span>' in page
    diagram = compare_diagram(comparison, summarize(comparison))
    syn = re.compile(r"    L->>L: \d+ #62; \d+: Flags \[S\], seq \d+, win \d+, length 0")
    assert any(syn.fullmatch(line) for line in diagram)
    assert any(re.fullmatch(r"    R->>R: \d+ #62; \d+: Flags \[F\.\], .*", line) for line in diagram)
    check_mermaid_lines(diagram)


# -- Mermaid ------------------------------------------------------------------------------------------

STATEMENT = re.compile(
    r"sequenceDiagram|    title (?P<t>.*)|    participant \w+ as (?P<p>.*)|    Note over \w+(,\w+)?: (?P<n>.*)"
    r"|    \w+->>\w+: (?P<m>.*)|    rect rgb\(\d+, \d+, \d+\)|    end")
LABEL = re.compile(r"(?:[A-Za-z0-9 .,:()\[\]=/_+\-@!?|~*'$^]|#\d+;|<br/>)*")


def check_mermaid_lines(lines: list[str]) -> list[str]:
    """Every line one statement of the grammar; every label only safe characters and entity codes."""
    labels = []
    assert lines[0] == "sequenceDiagram"
    for line in lines:
        match = STATEMENT.fullmatch(line)
        assert match is not None, line
        label = next((g for g in match.groups() if g is not None and g != ",L" and g != ",R"), None)
        if label is not None and line.strip() != "end":
            assert LABEL.fullmatch(label), label
            labels.append(label)
    return labels


def unentity(label: str) -> str:
    return re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), label.replace("<br/>", "\n"))


def test_mm_text_round_trips_and_leaves_no_syntax() -> None:
    nasty = 'a;b#c"d<e>f&g%h{i}j\\k`l\nm\x1b[2J\u202e\u00e9\u4e2d end -->> x'
    escaped = mm_text(nasty)
    assert escaped.isascii()
    for raw in ('"', "<", ">", "&", "%", "{", "}", "\\", "`", "\n", "\x1b", "\u202e"):
        assert raw not in escaped, raw
    assert ";" not in re.sub(r"#\d+;", "", escaped)
    assert "#" not in re.sub(r"#\d+;", "", escaped)
    assert unentity(escaped) == escape_for_terminal(nasty)


def test_trace_mermaid_of_a_hostile_program(tmp_path: Path, hostile: Path) -> None:
    out = tmp_path / "trace.mmd"
    proc = sctrace("trace", "-s", "512", "--format", "mermaid", "-o", str(out), "--interpreter", PYTHON, str(hostile))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert text.isascii()
    lines = text.splitlines()
    labels = check_mermaid_lines(lines)
    decoded = "\n".join(unentity(label) for label in labels)
    assert "u<svg onload=alert(4)>" in decoded
    assert escape_for_terminal(hostile.name) in decoded
    assert "listen: the socket becomes passive" in decoded
    participants = [line for line in lines if line.startswith("    participant ")]
    assert len(participants) == 1  # one process, talking to itself: no peer


@needs_php
def test_compare_mermaid_of_the_seed_servers(tmp_path: Path) -> None:
    proc = sctrace("compare", "--format", "mermaid", str(SEED / "server1.php"), str(SEED / "server1.py"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    labels = check_mermaid_lines(lines)
    assert [line.split(" as ")[0] for line in lines if "participant" in line] == [
        "    participant LP", "    participant L", "    participant R", "    participant RP"]
    assert lines.count("    rect rgb(218, 251, 225)") == 5  # same
    assert lines.count("    rect rgb(216, 243, 248)") == 3  # equivalent
    assert lines.count("    rect rgb(240, 241, 243)") == 1  # info
    assert lines.count("    end") == 9
    decoded = [unentity(label) for label in labels]
    assert "= P1: listen(L1, 5) = 0\nlisten: the socket becomes passive (it accepts\nconnections); backlog 5, " \
           "capped by net.core.somaxconn" in [d.split("\nstate:")[0] for d in decoded]
    assert any(d.startswith("rules: send_is_write") for d in decoded)


# -- Markdown -----------------------------------------------------------------------------------------

@needs_php
def test_markdown_handout_lists_the_explanations() -> None:
    proc = sctrace("compare", "--format", "markdown", str(SEED / "server1.php"), str(SEED / "server1.py"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    start = lines.index("What each call asked of the kernel:")
    items = lines[start + 2:lines.index("## Summary") - 1]
    assert items[3] == "- 3: listen: the socket becomes passive (it accepts connections); backlog 5, capped by " \
                       "net.core.somaxconn"
    assert items[0].startswith("- 1 left: socket: a new IPv4 stream socket") and items[0].endswith("descriptor 4")
    assert items[1].startswith("- 1 right: socket: ") and items[1].endswith("closed on exec")
    assert "- 5 right: getsockname: reads the local address: 127.0.0.1:1234 (nothing changes)" in items


def test_markdown_explanations_are_inert(tmp_path: Path, hostile: Path) -> None:
    proc = sctrace("compare", "--format", "markdown", str(hostile), str(ROOT / "fixtures" / "trace" / "tcp4_echo.py"))
    assert proc.returncode == 1, proc.stderr
    md = proc.stdout
    assert "<svg" not in md and "\x1b" not in md and "\u202e" not in md
    assert r"bind: the socket gets the name u&lt;svg onload=alert(4)&gt;\\33\[2J" in md
    markdown_it = pytest.importorskip("markdown_it")
    tokens = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(md)
    assert {child.type for token in tokens if token.children for child in token.children} <= {"text", "softbreak"}


@needs_php
def test_compare_mermaid_puts_an_explicit_peer_in_its_own_column() -> None:
    proc = sctrace("compare", "--format", "mermaid", "--client", str(SEED / "client1.py"), str(SEED / "server1.php"),
                   str(SEED / "server1.py"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    check_mermaid_lines(lines)
    assert "    participant LP as peer: " + mm_text(str(SEED / "client1.py")) in lines
    peer_notes = [line for line in lines if "peer P1: " in line]
    assert peer_notes and all(line.startswith(("    Note over LP: ", "    Note over RP: ")) for line in peer_notes)
    assert any(line.startswith("    Note over LP: = peer P1: connect(C1, ") for line in peer_notes)


# -- in a real browser --------------------------------------------------------------------------------

def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    profile = tmp_path / "chromium-profile"
    return subprocess.run([str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, timeout=120)


def png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the decompressed scanlines of a PNG file."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, zlib.decompress(idat)


@pytest.mark.slow
@needs_chromium
def test_html_report_in_headless_chromium(tmp_path: Path, hostile: Path) -> None:
    report = tmp_path / "report.html"
    proc = sctrace("trace", "-s", "512", "--format", "html", "-o", str(report), "--interpreter", PYTHON, str(hostile))
    assert proc.returncode == 0, proc.stderr
    shot = tmp_path / "report.png"
    chromium(tmp_path, "--window-size=1600,1200", f"--screenshot={shot}", report.as_uri())
    width, height, pixels = png_pixels(shot)
    assert (width, height) == (1600, 1200)
    assert len(set(pixels)) > 16  # not a blank page: text, rules and colours
    dom = chromium(tmp_path, "--dump-dom", report.as_uri()).stdout.decode()
    parsed = Elements(dom)
    assert set(parsed.tags) <= REPORT_TAGS, set(parsed.tags) - REPORT_TAGS
    assert parsed.attributes <= REPORT_ATTRIBUTES
    text = "".join(parsed.text)
    assert "<script>alert(1)</script></style><img src=x onerror=alert(2)>" in text
    assert "Socket calls of" in text and "listen: the socket becomes passive" in text
    compared = tmp_path / "compare.html"
    proc = sctrace("compare", "--format", "html", "-o", str(compared), str(hostile),
                   str(ROOT / "fixtures" / "trace" / "tcp4_echo.py"))
    assert proc.returncode == 1, proc.stderr
    for page in (report, compared):
        for width in (1024, 1920):  # a projector's width: long calls wrap, nothing makes the page scroll sideways
            assert page_widths(tmp_path, page, width) == (width - 15, width - 15)  # the vertical scroll bar's 15


def page_widths(tmp_path: Path, report: Path, width: int) -> tuple[int, int]:
    """The document's scroll width and client width in Chromium, measured by a script in a copy of the page."""
    probe = tmp_path / "probe.html"
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", report.read_text())
    probe.write_text(page.replace("</body>", '<script>const d = document.documentElement; document.body.setAttribute('
                                  '"data-widths", d.scrollWidth + " " + d.clientWidth);</script></body>'))
    dom = chromium(tmp_path, f"--window-size={width},800", "--dump-dom", probe.as_uri()).stdout.decode()
    found = re.search(r'data-widths="(\d+) (\d+)"', dom)
    assert found is not None
    return int(found.group(1)), int(found.group(2))


@pytest.mark.skipif(not os.environ.get("SCTRACE_MERMAID_JS"),
                    reason="SCTRACE_MERMAID_JS does not name a mermaid.min.js (npm install mermaid)")
@needs_chromium
def test_mermaid_draws_the_hostile_diagram(tmp_path: Path, hostile: Path) -> None:
    """Mermaid itself parses the diagram and draws it, and nothing the payload says becomes an element."""
    diagram = tmp_path / "trace.mmd"
    proc = sctrace("trace", "-s", "512", "--format", "mermaid", "-o", str(diagram), "--interpreter", PYTHON,
                   str(hostile))
    assert proc.returncode == 0, proc.stderr
    script = Path(os.environ["SCTRACE_MERMAID_JS"]).resolve()
    page = tmp_path / "mermaid.html"
    page.write_text(
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><script src="{script.as_uri()}"></script></head><body>'
        f'<pre class="mermaid">{html.escape(diagram.read_text())}</pre><script>'
        'mermaid.initialize({startOnLoad: false, securityLevel: "strict"});'
        'mermaid.run({querySelector: ".mermaid"}).then(() => document.body.setAttribute("data-drawn", "ok"))'
        '.catch(e => document.body.setAttribute("data-drawn", "error: " + e));</script></body></html>')
    dom = chromium(tmp_path, "--allow-file-access-from-files", "--virtual-time-budget=15000", "--dump-dom",
                   page.as_uri()).stdout.decode()
    assert 'data-drawn="ok"' in dom, re.findall(r'data-drawn="[^"]*"', dom)
    svg = dom[dom.index("<svg"):dom.rindex("</svg>") + 6]
    drawn = Elements(svg)
    assert drawn.tags.count("svg") == 1  # the diagram's own; the payload's <svg onload> is text
    assert set(drawn.tags) <= {"svg", "g", "text", "tspan", "rect", "defs", "path", "marker", "symbol", "line",
                               "circle", "polygon", "style"}, set(drawn.tags)
    assert drawn.tags.count("style") == 1  # Mermaid's own
    assert not [name for name in drawn.attributes if name.startswith("on")]
    assert "u<svg onload=alert(4)>" in "".join(drawn.text)  # drawn as text
    assert "<script>alert(1)</script></style><img src=x onerror=" in "".join(drawn.text)


# -- the command line ---------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["trace", "compare"])
def test_report_that_cannot_be_written(tmp_path: Path, command: str) -> None:
    args = [str(ROOT / "fixtures" / "trace" / "tcp4_echo.py")] * (1 if command == "trace" else 2)
    for target in (tmp_path / "no" / "such" / "dir" / "r.html", tmp_path):
        proc = sctrace(command, "--format", "html", "-o", str(target), *args, timeout=30)
        assert proc.returncode == ExitStatus.CANNOT_WRITE
        assert proc.stderr.startswith(f"sctrace: error: cannot write {target}")
        assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "no").exists()


def test_cli_in_process() -> None:
    from typer.testing import CliRunner

    from sctrace.cli.app import app

    result = CliRunner().invoke(app, ["trace", "--help"])
    assert result.exit_code == 0 and "mermaid" in result.output and "html" in result.output
    result = CliRunner().invoke(app, ["demo", "--help"])
    assert result.exit_code == 0 and "sctrace demo --format html -o report.html" in result.output
    from sctrace.cli.app import run

    assert run(["compare", "--format", "html", "-o", "/nonexistent/dir/r.html", "a.py", "b.py"]) == \
        ExitStatus.CANNOT_WRITE


def test_demo_argv() -> None:
    left, right = seed_programs()
    assert Path(left).name == "server1.php" and Path(right).name == "server1.py"
    assert demo_argv([], {"--states", "--packets", "--format"}) == ["compare", left, right, "--states", "--packets"]
    assert demo_argv(["--format", "html"], {"--format"}) == ["compare", left, right, "--format", "html"]
    assert demo_argv(["--states"], {"--states", "--packets"}) == ["compare", left, right, "--packets", "--states"]


def test_demo_without_fixtures(tmp_path: Path) -> None:
    with pytest.raises(SctraceError) as info:
        seed_programs(tmp_path)
    assert info.value.status == ExitStatus.NO_PROGRAM
    assert "server1.php" in info.value.message and "sctrace compare LEFT RIGHT" in info.value.message


@needs_php
def test_demo_runs_the_seed_lecture_from_anywhere(tmp_path: Path) -> None:
    proc = sctrace("demo", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("left:  ") and "server1.php (php " in lines[0]
    assert "server1.py (python " in lines[1]
    assert any(line.startswith("semantically equivalent") for line in lines)
    report = tmp_path / "report.html"
    proc = sctrace("demo", "--format", "html", "-o", str(report), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    page = report.read_text()
    assert_inert_html(page)
    assert "server1.php" in page and "backlog 5, capped by net.core.somaxconn" in page
    compare_help = sctrace("compare", "--help").stdout
    if "--states" in compare_help:
        assert ">LISTEN</span>" in page and ">TIME_WAIT</span>" in page
    from dataclasses import fields

    from sctrace.compare.model import Side

    if "--packets" in compare_help and "trace" in {f.name for f in fields(Side)}:  # the comparison keeps the traces
        assert page.count('<tr class="packet in syn">') == 2 and page.count('<tr class="packet out syn">') == 2
