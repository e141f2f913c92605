"""Decoding of strace's argument and return-value notation into JSON values.

strace prints C-like text (``{sa_family=AF_INET, sin_port=htons(80), ...}``,
``"hello\\n"...``, ``3<TCP:[...]>``) that is meant for people.  sctrace compares
it with what its own backend recorded, so the text has to become the same
JSON-ready values the backend produces (see docs/trace-format.md): sockaddrs as
dicts, buffers as ``{"text", "len"}``, descriptors as ints.  This module holds
that decoding; strace_log.py deals with lines, processes and time.

Anything this module does not understand becomes ``{"raw": text}`` instead of an
error: a new strace version or an exotic ioctl must not make a whole log
unreadable.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeGuard

from sctrace.model.registry import REGISTRY, Kind, names

# Which name each argument has, and which calls act on a descriptor: rows of sctrace/model/registry.py.

# Names as sctrace's data model uses them (mostly the kernel's / man pages').
# Calls not listed here get arg0, arg1, ... so that nothing is guessed.
ARG_NAMES: dict[str, tuple[str, ...]] = {c.name: c.arg_names for c in REGISTRY if c.args and c.log_names}

# Calls whose first argument is a descriptor: their Event.fd/endpoint are set.  Only calls with an x86_64
# number (so not recv and send, which only other architectures have).
FD_SYSCALLS = frozenset(names(lambda c: c.acts_on == 0 and c.nr is not None))

# Calls that return a process id: a ``<comm>`` after the number (strace -Y) is
# not a descriptor's endpoint.
PID_RETURNING = frozenset({"clone", "clone3", "fork", "vfork", "wait4", "waitid", "getpid", "gettid",
                           "getppid", "setsid", "getsid", "getpgid", "getpgrp", "pidfd_getpid"})

# (buffer argument, size argument) of calls that move one buffer: the bytes
# really moved are the result, which strace's shown text may fall short of.
_BUFFER_CALLS = {c.name: (a.name, a.size) for c in REGISTRY for a in c.args or () if a.kind is Kind.BUFFER and a.size}
_IOV_CALLS = frozenset(names(lambda c: c.has(Kind.IOVEC)))
# Lengths passed by pointer ("[16]"): the int itself is what matters.
_INT_POINTER_ARGS = frozenset(a.name for c in REGISTRY for a in c.args or () if a.kind is Kind.VALUE_RESULT)
# Of those, the ones the kernel rewrites: always {"in", "out"} in sctrace's model.
_VALUE_RESULT = frozenset((c.name, a.name) for c in REGISTRY for a in c.args or () if a.kind is Kind.VALUE_RESULT)
# Arguments whose value is a symbolic constant or flag set: strings even when strace prints 0.
_SYMBOLIC_ARGS = frozenset(a.name for c in REGISTRY if c.log_names for a in c.args or ()
                           if a.kind in (Kind.CONST, Kind.FLAGS))


# What strace -yy prints for a socket: the protocol's name and its addresses ("TCP:[1.2.3.4:5->...]",
# "UNIX-STREAM:[...]", "NETLINK:[...]"; names from strace src/socketutils.c and the kernel's
# sock_diag protocols, all capitals), or "socket:[inode]" when it could not ask the kernel.  Files are
# paths, and other anonymous descriptors are lower case ("pipe:[...]", "anon_inode:[eventfd]").
_SOCKET_ENDPOINT = re.compile(r"(?:socket|[A-Z][A-Za-z0-9_/-]*):\[")


def is_socket_endpoint(endpoint: str | None) -> bool:
    """Whether strace's -yy description of a descriptor is a socket's."""
    return endpoint is not None and _SOCKET_ENDPOINT.match(endpoint) is not None


class ParseError(ValueError):
    """Text that does not follow strace's notation; the caller decides how bad that is."""


# Scanning: finding where a value ends without understanding it.

_CLOSERS = {"(": ")", "[": "]", "{": "}"}


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)


def skip_string(text: str, i: int) -> int:
    """Index just past the quoted string starting at text[i] (a '"').

    Needed because strings hold any byte strace printed, brackets and commas
    included, and only an unescaped quote ends them.
    """
    m = _STRING.match(text, i)
    if not m:
        raise ParseError("unterminated string")
    return m.end()


def skip_decoration(text: str, i: int) -> int:
    """Index just past the ``<...>`` that -y/-yy put after a descriptor at text[i].

    The text inside is not strace's usual notation: socket descriptions hold
    ``->`` inside brackets (``TCP:[a:1->b:2]``), devices nest another ``<...>``
    (``/dev/null<char 1:3>``), and paths may hold unbalanced brackets but have
    ``<``, ``>`` and quotes escaped.  So paths are scanned for ``<``/``>`` only,
    other descriptions also skip brackets and quoted strings (unix socket paths).
    """
    is_path = text.startswith("/", i + 1)
    depth = 0
    brackets = 0
    j = i
    n = len(text)
    while j < n:
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if not is_path and c == '"':
            j = skip_string(text, j)
            continue
        if not is_path and c == "[":
            brackets += 1
        elif not is_path and c == "]" and brackets:
            brackets -= 1
        elif brackets == 0 and c == "<":
            depth += 1
        elif brackets == 0 and c == ">":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise ParseError("unterminated descriptor decoration")


def scan(text: str, i: int, stops: str, stop_at_arrow: bool = False) -> int:
    """Index of the first character in ``stops`` outside any nesting, or len(text).

    Nesting is (), [], {}, strings, comments and descriptor decorations, so a
    comma inside a sockaddr or a buffer does not split arguments.  Raises
    ParseError on unbalanced brackets, which is how a line cut short shows.
    """
    stack: list[str] = []
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i = skip_string(text, i)
            continue
        if c == "\\":
            i += 2
            continue
        if c == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise ParseError("unterminated comment")
            i = end + 2
            continue
        if not stack and (c in stops or (stop_at_arrow and text.startswith("=>", i))):
            return i
        if c in _CLOSERS:
            stack.append(_CLOSERS[c])
        elif c == "<":
            if text.startswith("<<", i):  # a shift in a flag expression: 1<<X
                i += 2
                continue
            if i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"):
                i = skip_decoration(text, i)
                continue
        elif c in ")]}":
            if not stack or stack[-1] != c:
                raise ParseError(f"unbalanced {c!r}")
            stack.pop()
        i += 1
    if stack:
        raise ParseError("unbalanced brackets")
    return n


def split_top(text: str) -> list[str]:
    """Split a comma-separated list at its top level; a trailing empty item is dropped.

    The trailing item is empty when strace cut the argument list short (a call
    that never resumed prints ``read(3, `` and nothing more).
    """
    parts: list[str] = []
    i = 0
    while i <= len(text):
        j = scan(text, i, ",")
        parts.append(text[i:j].strip())
        i = j + 1
    if parts and parts[-1] == "":
        parts.pop()
    return parts


# Parsing one value.

_ELLIPSIS = "..."
_KEY = re.compile(r"([A-Za-z_][\w.]*(?:\[[^\]=]*\])?)=(?!>)")
_INT = re.compile(r"-?\d+")
_OCTAL = re.compile(r"0[0-7]+")
_DECORATED = re.compile(r"(-?\d+|[A-Za-z_]\w*)<.*>", re.S)
_BYTE_ORDER = re.compile(r"(?:htons|htonl|ntohs|ntohl)\((\d+)\)")
_INET_ADDR = re.compile(r'inet_addr\("([^"]*)"\)')
_INET_PTON = re.compile(r'inet_pton\((\w+), "([^"]*)", &(\w+)\)')
_COMMENT = re.compile(r"\s*/\*.*?\*/")
_BLANK = re.compile(r"(?:\s+|/\*.*?\*/)*", re.S)
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)", re.S)
_SIMPLE = {"n": 10, "t": 9, "r": 13, "v": 11, "f": 12, "a": 7, "b": 8, "e": 27}


def unescape(body: str) -> bytes:
    """The bytes behind strace's escaped string body (C escapes, octal, \\x hex).

    Needed for the true length of a buffer and for AF_UNIX paths.  strace uses
    the shortest octal form unless a digit follows, so ``\\0007`` is NUL, '7'.
    """
    out = bytearray()
    pos = 0
    for m in _ESCAPE.finditer(body):
        out += body[pos:m.start()].encode("utf-8", "surrogateescape")
        e = m.group(1)
        if e[0] == "x" and len(e) > 1:
            out.append(int(e[1:], 16))
        elif e[0] in "01234567":
            out.append(int(e, 8) & 0xFF)
        else:
            out += bytes([_SIMPLE[e]]) if e in _SIMPLE else e.encode("utf-8", "surrogateescape")
        pos = m.end()
    out += body[pos:].encode("utf-8", "surrogateescape")
    return bytes(out)


def escaped_len(body: str) -> int:
    """How many bytes an escaped string body stands for, without building them.

    Every buffer needs its length, and -s 65500 buffers of binary data hold tens
    of thousands of escapes: counting them in the regex engine is what keeps
    large logs fast.
    """
    rest, escapes = _ESCAPE.subn("", body)
    return len(rest.encode("utf-8", "surrogateescape")) + escapes


def _text_of(buf: bytes) -> str:
    """A path as text; undecodable bytes stay visible as \\x escapes, JSON-safe."""
    return buf.decode("utf-8", "backslashreplace")


class _Cursor:
    """Recursive-descent reader of one strace value; positions index ``text``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def skip_ws(self) -> None:
        """Whitespace and comments carry no value (``/* 3 vars */``, pid-namespace notes)."""
        m = _BLANK.match(self.text, self.i)
        self.i = m.end() if m else self.i

    def at_end(self) -> bool:
        self.skip_ws()
        return self.i >= len(self.text)

    def value(self) -> Any:
        self.skip_ws()
        if self.i >= len(self.text):
            raise ParseError("missing value")
        c = self.text[self.i]
        v: Any
        if c == '"':
            v = self.string()
        elif c == "{":
            v = self.struct()
        elif c == "[":
            v = self.array()
        elif self.text.startswith("...", self.i):
            self.i += 3
            v = _ELLIPSIS
        else:
            v = self.atom()
        self.skip_ws()
        if self.text.startswith("=>", self.i):  # in/out value: [128 => 16], {...} => {...}
            self.i += 2
            v = {"in": v, "out": self.value()}
        return v

    def string(self) -> dict[str, Any]:
        end = skip_string(self.text, self.i)
        body = self.text[self.i + 1:end - 1]
        self.i = end
        out: dict[str, Any] = {"text": body, "len": escaped_len(body)}
        if self.text.startswith("...", self.i):  # strace -s cut the buffer short
            self.i += 3
            out["truncated"] = True
        return out

    def items(self, close: str, item: Callable[[], None]) -> None:
        """Read comma-separated members up to ``close``, one ``item()`` call each."""
        self.i += 1
        while True:
            self.skip_ws()
            if self.text.startswith(close, self.i):
                self.i += 1
                return
            item()
            self.skip_ws()
            if self.text.startswith(",", self.i):
                self.i += 1
            elif not self.text.startswith(close, self.i):
                raise ParseError(f"expected ',' or {close!r}")

    def struct(self) -> Any:
        fields: dict[str, Any] = {}

        def member() -> None:
            m = _KEY.match(self.text, self.i)
            if m:
                self.i = m.end()
                fields[m.group(1)] = self.value()
            elif self.text.startswith("...", self.i):
                self.i += 3
            else:  # strace prints an IPv6 address as a call naming its field
                end = scan(self.text, self.i, ",}")
                pm = _INET_PTON.fullmatch(self.text[self.i:end].strip())
                if not pm:
                    raise ParseError("struct member without a name")
                fields[pm.group(3)] = pm.group(2)
                self.i = end

        self.items("}", member)
        return convert_struct(fields)

    def array(self) -> list[Any]:
        items: list[Any] = []
        self.items("]", lambda: items.append(self.value()))
        return items

    def atom(self) -> Any:
        start = self.i
        end = scan(self.text, start, ",)]}", stop_at_arrow=True)
        if end == start:
            raise ParseError("missing value")
        self.i = end
        return atom_value(_COMMENT.sub("", self.text[start:end]).strip())


def atom_value(text: str) -> Any:
    """A scalar as JSON: numbers as int, NULL as null, the rest as strace printed it.

    Hex stays text because strace prints pointers and masks that way and their
    exact value rarely compares across runs; a descriptor drops its -y decoration
    so that traces with and without -y compare equal.
    """
    if _OCTAL.fullmatch(text):  # modes: 0644
        return int(text, 8)
    if _INT.fullmatch(text):
        return int(text)
    if text == "NULL":
        return None
    m = _DECORATED.fullmatch(text)
    if m:
        return atom_value(m.group(1))
    m = _BYTE_ORDER.fullmatch(text)
    if m:
        return int(m.group(1))
    m = _INET_ADDR.fullmatch(text)
    if m:
        return m.group(1)
    return text


def parse_value(text: str) -> Any:
    """One whole argument; ParseError unless all of it was understood."""
    cur = _Cursor(text)
    v = cur.value()
    if not cur.at_end():
        raise ParseError("trailing text after value")
    return v


# Structures with a meaning of their own.


def convert_struct(fields: dict[str, Any]) -> Any:
    """Turn the structs sctrace compares into its data model's shapes."""
    if "sa_family" in fields:
        return _sockaddr(fields)
    if not _MSGHDR_FIELDS.isdisjoint(fields):
        return _msghdr(fields)
    if "iov_base" in fields:
        return {"base": fields["iov_base"], "len": fields.get("iov_len")}
    if "cmsg_level" in fields:
        return _cmsg(fields)
    return fields


def _sockaddr(f: dict[str, Any]) -> dict[str, Any]:
    family = f["sa_family"]
    if family == "AF_INET" and "sin_port" in f:
        return {"family": family, "port": f["sin_port"], "address": f.get("sin_addr")}
    if family == "AF_INET6" and "sin6_port" in f:
        return {"family": family, "port": f["sin6_port"], "flowinfo": f.get("sin6_flowinfo"),
                "address": f.get("sin6_addr"), "scope_id": f.get("sin6_scope_id")}
    if family == "AF_UNIX":
        out: dict[str, Any] = {"family": family}
        path = f.get("sun_path")
        if isinstance(path, dict) and "text" in path:
            out["path"] = _text_of(unescape(path["text"]))
        elif isinstance(path, str) and path.startswith('@"') and path.endswith('"'):
            # An abstract name: strace marks it with '@' before the quotes.
            out["path"] = "@" + _text_of(unescape(path[2:-1]))
            out["abstract"] = True
        elif path is not None:
            out["path"] = path
        return out
    out = {"family": family}
    out.update((k, v) for k, v in f.items() if k != "sa_family")
    return out


_MSGHDR_KEYS = ("name", "namelen", "iov", "iovlen", "control", "controllen", "flags")
_MSGHDR_FIELDS = frozenset("msg_" + k for k in _MSGHDR_KEYS)


def _msghdr(f: dict[str, Any]) -> dict[str, Any]:
    """A msghdr without its msg_ prefixes.

    strace leaves msg_control out when msg_controllen is 0 (it is then null),
    but a failed recvmsg shows only msg_namelen: that one keeps just what it shows.
    """
    if "msg_iov" in f or "msg_name" in f:
        out = {k: f.get("msg_" + k) for k in _MSGHDR_KEYS}
        if isinstance(out["flags"], int):
            out["flags"] = str(out["flags"])
        return out
    return {k: f["msg_" + k] for k in _MSGHDR_KEYS if "msg_" + k in f}


def _cmsg(f: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"len": f.get("cmsg_len"), "level": f.get("cmsg_level"), "type": f.get("cmsg_type")}
    data = f.get("cmsg_data")
    out["fds" if f.get("cmsg_type") == "SCM_RIGHTS" and isinstance(data, list) else "data"] = data
    return out


# A whole argument list.


def decorated_sockets(text: str) -> dict[str, str]:
    """Descriptor (as a string) -> endpoint, for each socket descriptor -yy decorated in ``text``.

    These are descriptors an argument carries (socketpair's pair, SCM_RIGHTS):
    the trace keeps what the kernel said about them (Event.info["fd_endpoints"]).
    Quoted strings are skipped, since a payload may hold "3<" too.
    """
    found: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            try:
                i = skip_string(text, i)
            except ParseError:
                return found
            continue
        if c.isdigit() and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] in "_.")):
            j = i
            while j < n and text[j].isdigit():
                j += 1
            if j < n and text[j] == "<":
                try:
                    end = skip_decoration(text, j)
                except ParseError:
                    return found
                endpoint = text[j + 1:end - 1]
                if is_socket_endpoint(endpoint):
                    found[text[i:j]] = endpoint
                i = end
                continue
            i = j
            continue
        i += 1
    return found


def fd_and_endpoint(arg: str) -> tuple[int | None, str | None]:
    """The descriptor number in an argument's text and what -y/-yy said about it."""
    m = re.fullmatch(r"(-?\d+)(?:<(.*)>)?", arg.strip(), re.S)
    if not m:
        return None, None
    return int(m.group(1)), m.group(2)


def decode_args(name: str, args_text: str, ret: int | None) -> dict[str, Any]:
    """The named, decoded arguments of one call; never raises on odd argument text."""
    names = ARG_NAMES.get(name, ())
    args: dict[str, Any] = {}
    for index, piece in enumerate(split_top(args_text)):
        key = names[index] if index < len(names) else f"arg{index}"
        named = _KEY.match(piece)
        if named and not names and named.group(1) not in args:
            # strace names some arguments itself (clone's "flags=..."), in its own order.
            key, piece = named.group(1), piece[named.end():]
        try:
            value = parse_value(piece)
        except (ValueError, IndexError):  # ParseError is a ValueError
            value = {"raw": piece}
        if key in _INT_POINTER_ARGS and isinstance(value, list) and len(value) == 1:
            if isinstance(value[0], int) or (isinstance(value[0], dict) and "in" in value[0]):
                value = value[0]
            if (name, key) in _VALUE_RESULT and isinstance(value, int):
                value = {"in": value, "out": value}  # strace's [16] is [16 => 16]
        elif key in _SYMBOLIC_ARGS and isinstance(value, int):
            value = str(value)  # a flag set or constant, as the ptrace backend keeps it
        args[key] = value
    _fix_lengths(name, args, ret)
    # A receive's msg_namelen is value-result too: strace's 16 is 16 => 16.
    received: list[Any] = []
    if name == "recvmsg":
        received = [args.get("msg")]
    elif name == "recvmmsg" and isinstance(args.get("msgvec"), list):
        received = [m.get("msg_hdr") for m in args["msgvec"] if isinstance(m, dict)]
    for msg in received:
        if isinstance(msg, dict) and isinstance(msg.get("namelen"), int) and "iov" in msg:
            msg["namelen"] = {"in": msg["namelen"], "out": msg["namelen"]}
    return args


def _is_buffer(v: Any) -> TypeGuard[dict[str, Any]]:
    return isinstance(v, dict) and "text" in v and set(v) <= {"text", "len", "truncated"}


def _fix_lengths(name: str, args: dict[str, Any], ret: int | None) -> None:
    """Set each buffer's true length: strace shows at most -s bytes of it.

    A call moves ``ret`` bytes when it succeeds; otherwise (failed, or never
    returned) the size the program asked for is the best that is known.
    """
    budget = ret if ret is not None and ret >= 0 else None
    if name in _BUFFER_CALLS:
        buf_key, size_key = _BUFFER_CALLS[name]
        buf = args.get(buf_key)
        if _is_buffer(buf):
            size = args.get(size_key)
            if budget is not None:
                buf["len"] = budget
            elif isinstance(size, int):
                buf["len"] = size
    elif name in _IOV_CALLS:
        _fix_iov(args.get("iov"), budget)
    elif name in ("sendmsg", "recvmsg"):
        msg = args.get("msg")
        if isinstance(msg, dict):
            _fix_iov(msg.get("iov"), budget)
    elif name in ("sendmmsg", "recvmmsg"):
        vec = args.get("msgvec")
        for item in vec if isinstance(vec, list) else []:
            if isinstance(item, dict) and isinstance(item.get("msg_hdr"), dict):
                size = item.get("msg_len")
                _fix_iov(item["msg_hdr"].get("iov"), size if isinstance(size, int) else None)


def _fix_iov(iov: Any, budget: int | None) -> None:
    """Spread the bytes moved over the vector in order, as the kernel fills it."""
    if not isinstance(iov, list):
        return
    for item in iov:
        if not isinstance(item, dict) or "base" not in item:
            continue
        cap = item.get("len")
        if not isinstance(cap, int):
            continue
        moved = cap if budget is None else min(cap, budget)
        if budget is not None:
            budget -= moved
        if _is_buffer(item["base"]):
            item["base"]["len"] = moved
