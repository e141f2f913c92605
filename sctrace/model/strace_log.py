"""Reading strace's text output as an sctrace Trace.

strace is the reference sctrace is checked against, and users already have
strace logs; turning them into the same Trace value lets every later stage
(filter, normalize, compare, render) treat both alike.  The log is read as
strace 6.x writes it with any of -f/-ff, -y/-yy, -t/-tt/-ttt, -T, -i and -s,
written with -o (a ``1234  `` pid column) or to stderr (``[pid  1234] ``, and
no pid at all while only one process is traced).

What the log itself does not say is reconstructed where it can be, and left
unknown (None) where it cannot; a line that cannot be read is an error with its
line number, because a silently shortened trace would compare wrongly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sctrace.model.strace_args import (
    FD_SYSCALLS,
    PID_RETURNING,
    ParseError,
    decode_args,
    decorated_sockets,
    fd_and_endpoint,
    scan,
)
from sctrace.model.strace_args import skip_decoration as _skip_decoration
from sctrace.model.trace import Event, Header, Trace, TraceFormatError

__all__ = ["LogParser", "parse_strace_log", "looks_like_strace_log"]

# pid column: "1234 " (-o with -f), "[pid  1234] " (stderr), optionally "<comm>" (-Y).
# Timestamps: "12:00:01" (-t), "12:00:01.123456" (-tt), "1700000000.123456" (-ttt),
# any precision, or -r's padded delta ("     0.000123").  "-i" adds "[00007f...] ".
# A bare number counts as a pid unless it is too large to be one (then it is a
# whole-second -ttt timestamp).
_PREFIX = re.compile(
    r"(?:\[pid\s+(?P<pid1>\d+)(?:<[^>]*>)?\]\s+|(?P<pid2>\d+)(?:<[^>]*>)?\s+(?=\S))?"
    r"(?:\s*(?P<ts>\d{1,2}:\d{2}:\d{2}(?:\.\d+)?|\d+\.\d+)\s+)?"
    r"(?:\(\+\s*\d+(?:\.\d+)?\)\s+)?"  # -t with -r: "12:00:01 (+     0.000123) "
    r"(?:\[(?:[0-9a-f]{8,16}|\?{8,16})\]\s+)?"
)
_PID_MAX = 4194304  # the kernel's ceiling for pid_max on 64-bit
# A first float timestamp below this is -r's delta: no -ttt clock reads 1970-01-12.
_RELATIVE_MAX = 1_000_000

_EXITED = re.compile(r"\+\+\+ exited with (-?\d+) \+\+\+")
_KILLED = re.compile(r"\+\+\+ killed by (\S+)( \(core dumped\))? \+\+\+")
_SUPERSEDED = re.compile(r"\+\+\+ superseded by execve in pid (\d+) \+\+\+")
_SIGNAL = re.compile(r"--- (\S+)(?: .*)? ---")
_STOPPED = re.compile(r"--- stopped by (\S+) ---")
# strace names itself as invoked ("/usr/bin/strace: ..."); the name never holds
# the characters of its trace syntax, which finds where a spliced message begins.
_ME = r"(?:/[^\s:<>\"'(){}\[\],=|]*)?strace: "
_DIAGNOSTIC = re.compile(_ME)
_PROCESS = re.compile(_ME + r"Process (\d+) (attached|detached)\b.*")
_SPLICED = re.compile(r"(?P<head>.+?)(?P<msg>" + _ME + r"Process \d+ (?:attached|detached))")
_SUMMARY = re.compile(r"% time +seconds +usecs/call +calls +errors +syscall")
_PERSONALITY = re.compile(r"\[ Process PID=\d+ runs in .* mode\. \]")
_RESUMED = re.compile(r"<\.\.\. (\S+) resumed>")
_CALL = re.compile(r"([A-Za-z_]\w*|\?\?\?)\(")
# What strace puts where a call's output stops before it returns.
_PAUSE = re.compile(r" ?<(?:unfinished \.\.\.|pid changed to \d+ \.\.\.|detached \.\.\.)>$")
_DURATION = re.compile(r"\s+<\d+(?:\.\d+)?>$")
_RET = re.compile(r"(\?|0x[0-9a-fA-F]+|-?\d+)")
_ERRNO = re.compile(r"\s+(E[A-Z0-9_]+|\(errno \d+\))")
_UNKNOWN = -1  # the first process's pid until a line reveals it
_FORK_CALLS = ("clone", "clone3", "fork", "vfork")
# Calls that give the process new descriptors in their arguments (socketpair's pair, SCM_RIGHTS
# received): the sockets among them are kept in info["fd_endpoints"], as the ptrace backend does.
_CARRY_FDS = frozenset({"socketpair", "recvmsg", "recvmmsg"})


@dataclass
class _Pending:
    """A call printed as ``<unfinished ...>``, waiting for its ``resumed`` half."""

    name: str
    text: str  # the argument text printed so far
    t: float
    lineno: int


class _Reader:
    """The state that reading one log needs: open calls, live processes, clock."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.events: list[Event] = []
        self.pending: dict[int, _Pending] = {}
        self.live: set[int] = set()
        self.attached: set[int] = set()
        self.leader: int | None = None
        self.t0: tuple[int, float] | None = None
        self.last_t = 0.0
        self.day = 0
        self.last_whole: int | None = None
        self.relative: bool | None = None  # -r: each timestamp is a delta

    # -- helpers -----------------------------------------------------------

    def error(self, lineno: int, reason: str) -> TraceFormatError:
        return TraceFormatError(self.source, lineno, reason)

    def clock(self, ts: str | None) -> float:
        """Seconds since the log's first timestamp; wall-clock times may pass midnight.

        Whole seconds and the fraction are kept apart so that -ttt with
        nanoseconds (ten digits before the point) keeps its precision.  -r
        prints the time since the previous line instead: those add up.
        """
        if ts is None:
            return self.last_t
        whole_text, _, frac_text = ts.partition(".")
        frac = float("0." + frac_text) if frac_text else 0.0
        if ":" in whole_text:
            h, m, s = whole_text.split(":")
            whole = int(h) * 3600 + int(m) * 60 + int(s) + self.day
            if self.last_whole is not None and whole < self.last_whole - 43200:
                self.day += 86400
                whole += 86400
        else:
            whole = int(whole_text)
            if self.relative is None:
                self.relative = whole < _RELATIVE_MAX
            if self.relative:
                if self.t0 is not None:
                    self.last_t += whole + frac
                self.t0 = (0, 0.0)
                return self.last_t
        self.last_whole = whole
        if self.t0 is None:
            self.t0 = (whole, frac)
        self.last_t = (whole - self.t0[0]) + (frac - self.t0[1])
        return self.last_t

    def who(self, pid_text: str | None) -> int:
        """The pid a line belongs to; a line without one belongs to the only live process.

        strace on stderr drops the pid column whenever it traces a single
        process, so the owner of such a line is whichever process is alive;
        before any line names it, the first process is _UNKNOWN.
        """
        if pid_text is not None:
            pid = int(pid_text)
            if pid not in self.live:
                if _UNKNOWN in self.live and pid not in self.attached:
                    self.live.discard(_UNKNOWN)
                    self.leader = pid
                    self._rename(_UNKNOWN, pid)
                elif self.leader is None and pid not in self.attached:
                    self.leader = pid
                self.live.add(pid)
            return pid
        if len(self.live) == 1:
            return next(iter(self.live))
        if not self.live:
            self.live.add(_UNKNOWN)
            return _UNKNOWN
        if _UNKNOWN in self.live:
            return _UNKNOWN
        return self.leader if self.leader in self.live and self.leader is not None else min(self.live)

    def _rename(self, old: int, new: int) -> None:
        """The first process's open call moves with it when its pid becomes known."""
        if old in self.pending:
            self.pending[new] = self.pending.pop(old)

    def emit(self, event: Event) -> None:
        """Events are kept in the order their lines complete: that order is their seq."""
        self.events.append(event)

    def flush(self, pid: int) -> None:
        """A call that will never resume (its process ended): keep it, with no result."""
        p = self.pending.pop(pid, None)
        if p is not None:
            self.emit(_syscall(pid, p.t, p.name, p.text, None, None, None))

    # -- lines -------------------------------------------------------------

    def line(self, lineno: int, pid_text: str | None, ts: str | None, body: str) -> None:
        """One line without its pid/time prefix: a process event or (part of) a call."""
        pid = self.who(pid_text)
        t = self.clock(ts)
        m = _EXITED.fullmatch(body)
        if m:
            self.flush(pid)
            self.live.discard(pid)
            self.emit(Event("exit", 0, pid, t, info={"code": int(m.group(1))}))
            return
        m = _KILLED.fullmatch(body)
        if m:
            self.flush(pid)
            self.live.discard(pid)
            self.emit(Event("killed", 0, pid, t, info={"signal": m.group(1), "core": bool(m.group(2))}))
            return
        m = _SUPERSEDED.fullmatch(body)
        if m:
            # The exec'ing thread takes over the leader's pid; its execve resumes there.
            old = int(m.group(1))
            self.flush(pid)
            if old in self.pending:
                self.pending[pid] = self.pending.pop(old)
            self.live.discard(old)
            return
        m = _STOPPED.fullmatch(body)
        if m:
            self.emit(Event("signal", 0, pid, t, info={"signal": m.group(1), "stopped": True}))
            return
        m = _SIGNAL.fullmatch(body)
        if m:
            self.emit(Event("signal", 0, pid, t, info={"signal": m.group(1)}))
            return
        if _PERSONALITY.fullmatch(body):
            return
        m = _RESUMED.match(body)
        if m:
            self.resumed(lineno, pid, t, m.group(1), body[m.end():])
            return
        m = _CALL.match(body)
        if m:
            self.call(lineno, pid, t, m.group(1), body[m.end():])
            return
        raise self.error(lineno, f"not an strace line: {body[:60]!r}")

    def process_message(self, pid: int, kind: str) -> None:
        """``strace: Process N attached/detached``: a new process, or one let go."""
        if kind == "attached":
            self.attached.add(pid)
            self.live.add(pid)
            self.emit(Event("fork", 0, pid, self.last_t, info={"child": pid, "parent": None}))
        else:
            self.flush(pid)
            self.live.discard(pid)
            self.emit(Event("detached", 0, pid, self.last_t))

    def call(self, lineno: int, pid: int, t: float, name: str, rest: str) -> None:
        """``name(`` starts a call; ``rest`` holds its arguments and maybe its result."""
        if pid in self.pending:  # the earlier call of this process was never resumed
            self.flush(pid)
        self.complete(lineno, pid, _Pending(name, "", t, lineno), rest)

    def resumed(self, lineno: int, pid: int, t: float, name: str, rest: str) -> None:
        """``<... name resumed>``: the rest of this pid's call that was left unfinished."""
        p = self.pending.pop(pid, None)
        if p is None and name in ("execve", "execveat"):
            # A non-leader exec without the "superseded" line (-qqq): it resumes elsewhere.
            others = [k for k, v in self.pending.items() if v.name == name]
            if len(others) == 1:
                p = self.pending.pop(others[0])
        if p is not None and p.name != name:
            self.pending[pid] = p
            self.flush(pid)
            p = None
        if p is None:
            # Its start is not in the log (attached mid-call): arguments cannot be named.
            self.complete(lineno, pid, _Pending(name, "", t, lineno), rest, orphan=True)
            return
        self.complete(lineno, pid, p, rest)

    def complete(self, lineno: int, pid: int, p: _Pending, rest: str, orphan: bool = False) -> None:
        """Finish a call whose text so far is ``p.text`` with the line's ``rest``."""
        text = p.text + rest
        pause = _PAUSE.search(text)
        if pause:
            try:
                scan(text[:pause.start()], 0, "")
            except ParseError:
                raise self.error(lineno, "cut off inside an argument") from None
            args_text = text[:pause.start()]
            if "detached" in pause.group():
                self.emit(_syscall(pid, p.t, p.name, args_text, None, None, None))
            else:
                self.pending[pid] = _Pending(p.name, args_text, p.t, p.lineno)
            return
        try:
            close = scan(text, 0, ")")
        except ParseError as exc:
            raise self.error(lineno, f"cut off or malformed arguments ({exc})") from None
        if close >= len(text):
            raise self.error(lineno, "cut off: the argument list is not closed")
        args_text = text[:close]
        m = re.match(r"\s*=\s*", text[close + 1:])
        if not m:
            raise self.error(lineno, "cut off: no return value")
        ret_text = text[close + 1 + m.end():]
        # "<... read resumed> <unfinished ...>) = ?": the process died inside the call.
        args_text = re.sub(r"\s*<unfinished \.\.\.>\s*$", "", args_text)
        ret, errno, ret_ep = self.result(lineno, p.name, ret_text)
        if orphan:
            event = _syscall(pid, p.t, p.name, "", ret, errno, ret_ep)
            event.args = {"resumed": {"raw": args_text}}
        else:
            event = _syscall(pid, p.t, p.name, args_text, ret, errno, ret_ep)
        self.emit(event)

    def result(self, lineno: int, name: str, text: str) -> tuple[int | None, str | None, str | None]:
        """(ret, errno, returned descriptor's endpoint) from the text after ``=``."""
        text = _DURATION.sub("", text.rstrip())
        m = _RET.match(text)
        if not m:
            raise self.error(lineno, f"unreadable return value {text[:40]!r}")
        token = m.group(1)
        i = m.end()
        ret: int | None
        if token == "?":
            ret = None
        elif token.startswith("0x"):
            ret = int(token, 16)
        elif len(token) > 1 and token.startswith("0"):
            ret = int(token, 8)  # umask() and friends print octal
        else:
            ret = int(token)
        endpoint = None
        if text.startswith("<", i):
            try:
                end = _skip_decoration(text, i)
            except ParseError:
                raise self.error(lineno, "cut off inside the returned descriptor") from None
            if name not in PID_RETURNING:
                endpoint = text[i + 1:end - 1]
            i = end
        errno = None
        em = _ERRNO.match(text, i)
        if em and (ret is None or ret < 0):
            errno = em.group(1).strip("()")
            i = em.end()
        tail = text[i:].strip()
        if tail == "<unavailable>":  # strace could not fetch the result
            tail = ""
        if tail and not tail.startswith(("(", "/*")):
            raise self.error(lineno, f"unreadable text after the return value: {tail[:40]!r}")
        try:
            scan(tail, 0, "")
        except ParseError:
            raise self.error(lineno, "cut off after the return value") from None
        return ret, errno, endpoint

    # -- the end -------------------------------------------------------------

    def finish(self) -> list[Event]:
        """The events, once the whole log has told who the first process was."""
        for pid in list(self.pending):
            self.flush(pid)
        leader = self.leader if self.leader is not None else 0
        for e in self.events:
            if e.pid == _UNKNOWN:
                e.pid = leader
        _link_forks(self.events)
        for seq, e in enumerate(self.events):
            e.seq = seq
        return self.events


def _syscall(pid: int, t: float, name: str, args_text: str, ret: int | None,
             errno: str | None, ret_endpoint: str | None) -> Event:
    args = decode_args(name, args_text, ret)
    fd = endpoint = None
    first = ""
    if name in FD_SYSCALLS and args_text:
        first = _first_arg(args_text)
        fd, endpoint = fd_and_endpoint(first)
    event = Event("syscall", 0, pid, t, name=name, args=args, ret=ret, errno=errno, fd=fd,
                  endpoint=endpoint, ret_endpoint=ret_endpoint)
    if name in _CARRY_FDS and ret is not None and ret >= 0:
        carried = decorated_sockets(args_text[len(first):])
        if carried:
            event.info["fd_endpoints"] = carried
    return event


def _first_arg(args_text: str) -> str:
    """The first argument's text, with its -y decoration (which may hold commas)."""
    try:
        return args_text[:scan(args_text, 0, ",")]
    except ParseError:
        return ""


def _link_forks(events: list[Event]) -> None:
    """Name each new process's parent, and add the forks that -o logs do not show.

    strace writes "Process N attached" to stderr, so a log written with -o has
    no fork lines at all; the parent's clone/fork/vfork that returned N says
    the same, and a child that appears in the log gets its fork event from it,
    placed before whichever comes first: the clone's return or the child's
    first line.
    """
    parent_of: dict[int, Event] = {}
    for e in events:
        if e.type == "syscall" and e.name in _FORK_CALLS and e.ret is not None and e.ret > 0:
            parent_of.setdefault(e.ret, e)
    announced: set[int] = set()
    for e in events:
        if e.type == "fork":
            child = e.info["child"]
            announced.add(child)
            clone = parent_of.get(child)
            if clone is not None and clone.pid != child:
                e.pid = clone.pid
                e.info = {"child": child}
    first_line: dict[int, int] = {}
    for index, e in enumerate(events):
        first_line.setdefault(e.pid, index)
    inserts: list[tuple[int, int, Event]] = []
    for index, e in enumerate(events):
        if e.type != "syscall" or e.name not in _FORK_CALLS or e.ret is None or e.ret <= 0:
            continue
        child = e.ret
        if child in announced or child not in first_line or parent_of.get(child) is not e:
            continue
        announced.add(child)
        at = min(index + 1, first_line[child])
        inserts.append((at, index, Event("fork", 0, e.pid, e.t, info={"child": child})))
    # From the end, so earlier positions stay valid; equal positions keep clone order.
    for at, _, fork in sorted(inserts, key=lambda x: (x[0], x[1]), reverse=True):
        events.insert(at, fork)


def _split_prefix(text: str) -> tuple[str | None, str | None, str]:
    """(pid, timestamp, rest) of a line; either may be None."""
    m = _PREFIX.match(text)
    assert m is not None  # every part of the pattern is optional
    pid = m.group("pid1") or m.group("pid2")
    ts = m.group("ts")
    if m.group("pid2") and int(m.group("pid2")) > _PID_MAX and ts is None:
        ts, pid = m.group("pid2"), None  # --timestamps=unix,s: whole seconds
    return pid, ts, text[m.end():]


class LogParser:
    """Reads an strace log line by line; the events read so far are in ``events``.

    parse_strace_log reads a whole file with it; the strace backend feeds it
    strace's output as it comes and takes the new events after each line
    (``reader.events`` only grows until ``finish``).
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.reader = _Reader(source)
        self.carry: tuple[int, str | None, str | None, str] | None = None  # a line strace's stderr split
        self.done = False  # a -C summary table began: the trace is over

    @property
    def events(self) -> list[Event]:
        return self.reader.events

    def pending_forks(self) -> dict[int, tuple[str, str]]:
        """The processes inside a clone/fork/vfork that has not returned yet: pid -> (call, its text so far)."""
        return {pid: (p.name, p.text) for pid, p in self.reader.pending.items() if p.name in _FORK_CALLS}

    def flush_pending(self) -> None:
        """The log is over: each call still open is kept, with no result (its process ended inside it)."""
        for pid in list(self.reader.pending):
            self.reader.flush(pid)

    def feed(self, lineno: int, raw: str) -> None:
        """One line of the log (its newline may be there or not)."""
        if self.done:
            return
        reader, source = self.reader, self.source
        text = raw.rstrip("\r\n")
        if self.carry is not None:
            start, pid_text, ts, head = self.carry
            self.carry = None
            body = head + text
        else:
            if not text.strip():
                return
            if text.startswith((" > ", " | ")):  # -k stack frames, -e read=/write= dumps
                return
            if _SUMMARY.match(text):  # -C: the trace is over, a table of counts follows
                self.done = True
                return
            start = lineno
            if _DIAGNOSTIC.match(text):
                m = _PROCESS.fullmatch(text)
                if m:
                    reader.process_message(int(m.group(1)), m.group(2))
                return  # strace's other diagnostics are not events
            pid_text, ts, body = _split_prefix(text)
        spliced = _SPLICED.fullmatch(body) if "strace: Process " in body else None
        if spliced:
            # strace wrote its own message into the middle of a trace line.
            pid = reader.who(pid_text)
            reader.clock(ts)
            msg = _PROCESS.fullmatch(spliced.group("msg"))
            assert msg is not None
            reader.process_message(int(msg.group(1)), msg.group(2))
            self.carry = (start, str(pid) if pid != _UNKNOWN else None, None, spliced.group("head"))
            return
        try:
            reader.line(start, pid_text, ts, body)
        except ParseError as exc:
            raise TraceFormatError(source, start, str(exc)) from None

    def end(self) -> None:
        """The log is over: a line it split and never continued is an error."""
        if self.carry is not None:
            raise TraceFormatError(self.source, self.carry[0], "cut off: the log ends inside a line")


def parse_strace_log(lines: Iterable[str], source: str = "<strace>") -> Trace:
    """Read strace's text output (one log, any common flags) as a Trace.

    Raises TraceFormatError(source, line, reason) for a line that is not
    strace output or was cut off, including a last line without its newline.
    """
    parser = LogParser(source)
    for lineno, raw in enumerate(lines, 1):
        parser.feed(lineno, raw)
    parser.end()
    return Trace(Header(argv=[], backend="strace", program=source), parser.reader.finish())


_LOOKS = re.compile(r"(?:[A-Za-z_]\w*|\?\?\?)\(|<\.\.\. \S+ resumed>|\+\+\+ |--- |" + _ME)


def looks_like_strace_log(first_lines: list[str]) -> bool:
    """Whether text is strace output rather than sctrace's JSON Lines, judged by its first line."""
    for raw in first_lines:
        text = raw.strip("\r\n")
        if not text.strip():
            continue
        if text.lstrip().startswith("{"):
            return False
        _, _, body = _split_prefix(text)
        return _LOOKS.match(body) is not None
    return False
