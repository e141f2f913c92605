#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Regenerate the integer tables of sctrace/model/xlat.py from the installed C headers.

Why a generator: the names strace prints are the kernel's and glibc's own
constants, and copying them by hand invites typos that nobody notices until a
trace differs from strace's.  This script reads the ``#define`` lines and enum
members of the headers, applies the few corrections needed to print exactly
what strace 6.1 prints (names strace spells differently, names it does not know
yet, kernel-internal values that are not in the uapi headers), and writes the
tables as Python source.

Usage:
    python3 scripts/gen_xlat.py            # print the generated block to stdout
    python3 scripts/gen_xlat.py --check    # exit 1 (with a diff) when xlat.py disagrees
    python3 scripts/gen_xlat.py --write    # replace the block in sctrace/model/xlat.py

Only the block between the BEGIN/END marker lines of xlat.py is generated; the
hand-written functions around it are left alone.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import re
import sys
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

BEGIN = "# --- BEGIN GENERATED TABLES (scripts/gen_xlat.py) ---"
END = "# --- END GENERATED TABLES ---"
LINE_LIMIT = 110
MULTIARCH = "x86_64-linux-gnu"
DEFAULT_XLAT = Path(__file__).resolve().parent.parent / "sctrace" / "model" / "xlat.py"

# What strace 6.1 prints for the kernel's restart codes instead of strerror's "Unknown error N".
STRACE_ERRNO_TEXT = {
    512: "To be restarted if SA_RESTART is set",
    513: "To be restarted",
    514: "To be restarted if no handler",
    516: "Interrupted by signal",
}


class GenError(Exception):
    """A header is missing or a table is ambiguous; the message says which."""


# --------------------------------------------------------------------------
# Reading headers


@dataclass
class Macro:
    """One named constant as written: a #define or an enum member."""

    name: str
    expr: str
    line: int
    alias: bool  # "#define A B": another spelling of B, never a table entry of its own


@dataclass
class Header:
    rel: str
    macros: dict[str, Macro] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


_IDENT = r"[A-Za-z_]\w*"
_DEFINE = re.compile(rf"^\s*#\s*define\s+({_IDENT})(\(?)(.*)$")
_ENUM = re.compile(r"\benum\b[^{;]*\{(.*?)\}", re.S)
_ENUM_ENTRY = re.compile(rf"^\s*({_IDENT})\s*(?:=\s*(.+?))?\s*$", re.S)


def _strip_comments(text: str) -> str:
    """Blank out comments but keep every newline, so line numbers stay true."""
    def blank(m: re.Match[str]) -> str:
        return re.sub(r"[^\n]", " ", m.group(0))

    text = re.sub(r"/\*.*?\*/", blank, text, flags=re.S)
    return re.sub(r"//[^\n]*", blank, text)


def read_header(root: Path, rel: str) -> Header:
    """Collect the #defines and enum members of one header, in file order."""
    path = root / rel
    try:
        raw = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise GenError(f"cannot read {path}: {exc.strerror}") from None
    hdr = Header(rel, lines=raw.splitlines())
    text = _strip_comments(raw)
    found: list[Macro] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        start = i
        logical = lines[i]
        while logical.endswith("\\") and i + 1 < len(lines):
            i += 1
            logical = logical[:-1] + " " + lines[i]
        i += 1
        m = _DEFINE.match(logical)
        if not m or m.group(2):  # function-like macros are not constants
            continue
        name, expr = m.group(1), m.group(3).strip()
        if not expr or expr == name:  # "#define X X" next to an enum member
            continue
        found.append(Macro(name, expr, start + 1, alias=re.fullmatch(_IDENT, expr) is not None))
    for em in _ENUM.finditer(text):
        body = "\n".join(ln for ln in em.group(1).split("\n") if not ln.lstrip().startswith("#"))
        line = text.count("\n", 0, em.start(1)) + 1
        previous: str | None = None
        for part in body.split(","):
            pm = _ENUM_ENTRY.match(part)
            if not pm:
                continue
            name, expr = pm.group(1), pm.group(2)
            if expr is None:
                expr = "0" if previous is None else f"({previous}) + 1"
            where = re.search(rf"\b{name}\b", em.group(1))
            offset = em.group(1).count("\n", 0, where.start()) if where else 0
            expr = " ".join(expr.split())
            found.append(Macro(name, expr, line + offset, alias=re.fullmatch(_IDENT, expr) is not None))
            previous = name
    for macro in sorted(found, key=lambda mac: mac.line):
        if macro.name not in hdr.macros:
            hdr.macros[macro.name] = macro
            hdr.order.append(macro.name)
    return hdr


class Symbols:
    """All headers read so far, with C integer constant expressions evaluated on demand."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.headers: dict[str, Header] = {}
        self.first: dict[str, Header] = {}

    def header(self, rel: str) -> Header:
        if rel not in self.headers:
            hdr = read_header(self.root, rel)
            self.headers[rel] = hdr
            for name in hdr.order:
                self.first.setdefault(name, hdr)
        return self.headers[rel]

    def value(self, name: str, where: Header, seen: frozenset[str] = frozenset()) -> int | None:
        """The integer value of name as seen from header where, or None if not a plain constant."""
        if name in seen:
            return None
        hdr = where if name in where.macros else self.first.get(name)
        if hdr is None:
            return None
        return self._eval(hdr.macros[name].expr, hdr, seen | {name})

    def _eval(self, expr: str, where: Header, seen: frozenset[str]) -> int | None:
        out: list[str] = []
        pos = 0
        token = re.compile(r"\s*(?:(0[xX][0-9a-fA-F]+|\d+)[uUlL]*|(" + _IDENT + r")|(<<|>>|[-+*|&~()]))")
        while pos < len(expr):
            m = token.match(expr, pos)
            if not m:
                return None
            pos = m.end()
            number, ident, op = m.groups()
            if number is not None:
                if len(number) > 1 and number[0] == "0" and number[1] not in "xX":
                    number = "0o" + number[1:]
                out.append(str(int(number, 0)))
            elif ident is not None:
                val = self.value(ident, where, seen)
                if val is None:
                    return None
                out.append(f"({val})")
            else:
                out.append(op)
        return _safe_int_eval(" ".join(out))


_ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Add, ast.Sub, ast.Mult,
            ast.BitOr, ast.BitAnd, ast.LShift, ast.RShift, ast.Invert, ast.USub, ast.UAdd)


def _safe_int_eval(source: str) -> int | None:
    """Evaluate integer arithmetic only; anything else (casts, sizeof, ?:) is not a constant here."""
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        return None
    if not all(isinstance(node, _ALLOWED) for node in ast.walk(tree)):
        return None
    result = eval(compile(tree, "<header>", "eval"), {"__builtins__": {}})  # noqa: S307 - checked above
    return result if isinstance(result, int) else None


# --------------------------------------------------------------------------
# What each table is made of


@dataclass(frozen=True)
class Src:
    """Names matching pattern in one header, optionally only between two marker lines."""

    header: str
    pattern: str
    exclude: str = ""
    start: str | None = None  # regex of the first line of the section (inclusive)
    stop: str | None = None  # regex of the line that ends the section (exclusive)


@dataclass(frozen=True)
class Table:
    name: str
    why: str
    sources: tuple[Src, ...] = ()
    names: tuple[tuple[str, str], ...] = ()  # (header, name): explicit picks, aliases allowed
    rename: Mapping[str, str] = field(default_factory=dict)
    strace_unknown: frozenset[str] = frozenset()  # in the headers, but strace 6.1 prints a number
    extra: tuple[tuple[int, str], ...] = ()  # missing from the uapi headers
    extra_from: str = ""
    by_value: bool = True
    flags: bool = False  # bit masks: written in hex


def _h(rel: str) -> str:
    return rel.replace("@", MULTIARCH)


SOCKET_H = _h("@/bits/socket.h")
ASM_SOCKET_H = "asm-generic/socket.h"
KERNEL_SOCKET_H = "include/linux/socket.h of the kernel tree"

TABLES: tuple[Table, ...] = (
    Table("ADDRESS_FAMILIES", "Address families (PF_* values, printed with their AF_* names).",
          sources=(Src(SOCKET_H, r"PF_\w+", exclude=r"PF_MAX"),),
          rename={"PF_LOCAL": "AF_UNIX"}),
    Table("SOCKET_TYPES", "The base socket type (the low four bits of socket()'s type).",
          sources=(Src(_h("@/bits/socket_type.h"), r"SOCK_\w+", exclude=r"SOCK_(CLOEXEC|NONBLOCK)"),)),
    Table("SOCKET_TYPE_FLAGS", "Flags or-ed into the type; kept in header order, which is strace's order.",
          sources=(Src(_h("@/bits/socket_type.h"), r"SOCK_(CLOEXEC|NONBLOCK)"),), by_value=False, flags=True),
    Table("IP_PROTOCOLS", "socket()'s protocol for AF_INET and AF_INET6.",
          sources=(Src("linux/in.h", r"IPPROTO_\w+", exclude=r"IPPROTO_MAX"),
                   Src("linux/in6.h", r"IPPROTO_\w+", exclude=r"IPPROTO_HOPOPTS"))),
    Table("NETLINK_PROTOCOLS", "socket()'s protocol for AF_NETLINK.",
          sources=(Src("linux/netlink.h", r"NETLINK_\w+", stop=r"MAX_LINKS"),)),
    Table("ETHERNET_PROTOCOLS", "socket()'s protocol for AF_PACKET, printed as htons(ETH_P_*).",
          sources=(Src("linux/if_ether.h", r"ETH_P_\w+"),),
          strace_unknown=frozenset({"ETH_P_PROFINET", "ETH_P_ETHERCAT"})),
    Table("CAN_PROTOCOLS", "socket()'s protocol for AF_CAN (strace also uses it for AF_IRDA).",
          sources=(Src("linux/can.h", r"CAN_(RAW|BCM|TP16|TP20|MCNET|ISOTP|J1939)"),)),
    Table("MSG_FLAGS", "send/recv flags; glibc's MSG_PROXY is the kernel's (and strace's) MSG_PROBE.",
          sources=(Src(SOCKET_H, r"MSG_\w+"),),
          rename={"MSG_PROXY": "MSG_PROBE"},
          extra=((0x20000, "MSG_SENDPAGE_NOTLAST"), (0x80000, "MSG_NO_SHARED_FRAGS"),
                 (0x80000000, "MSG_CMSG_COMPAT")),
          extra_from=KERNEL_SOCKET_H, flags=True),
    Table("SOCKET_LEVELS", "setsockopt/getsockopt levels; strace names level 40 AF_VSOCK.",
          sources=(Src(_h("@/bits/in.h"), r"SOL_\w+"), Src(ASM_SOCKET_H, r"SOL_\w+"),
                   Src("netinet/tcp.h", r"SOL_\w+"), Src("netinet/udp.h", r"SOL_\w+"),
                   Src(SOCKET_H, r"SOL_\w+"), Src("netipx/ipx.h", r"SOL_\w+"),
                   Src("netax25/ax25.h", r"SOL_\w+"), Src("netatalk/at.h", r"SOL_\w+"),
                   Src("netrom/netrom.h", r"SOL_\w+"), Src("netrose/rose.h", r"SOL_\w+"),
                   Src("linux/can.h", r"SOL_\w+"), Src("linux/can/raw.h", r"SOL_\w+")),
          strace_unknown=frozenset({"SOL_MPTCP", "SOL_MCTP", "SOL_SMC"}),
          extra=((40, "AF_VSOCK"), (132, "SOL_SCTP"), (136, "SOL_UDPLITE")),
          extra_from=KERNEL_SOCKET_H + " (SOL_SCTP, SOL_UDPLITE) and strace (AF_VSOCK)"),
    Table("SO_OPTIONS", "SOL_SOCKET options for both directions (x86_64 uses the asm-generic values).",
          sources=(Src(ASM_SOCKET_H, r"SO_\w+", exclude=r"SO_ATTACH_FILTER"),)),
    Table("SO_GET_OPTIONS", "SOL_SOCKET option 26 as getsockopt reads it.",
          names=((ASM_SOCKET_H, "SO_GET_FILTER"),)),
    Table("SO_SET_OPTIONS", "SOL_SOCKET option 26 as setsockopt writes it.",
          names=((ASM_SOCKET_H, "SO_ATTACH_FILTER"),)),
    Table("IP_OPTIONS", "SOL_IP options for both directions.",
          sources=(Src("linux/in.h", r"(IP|MCAST)_\w+",
                       exclude=r"IP_PMTUDISC_\w+|IP_DEFAULT_\w+|MCAST_(EXCLUDE|INCLUDE)"),),
          strace_unknown=frozenset({"IP_LOCAL_PORT_RANGE", "IP_PROTOCOL"})),
    Table("IP_GET_OPTIONS", "SOL_IP options only getsockopt has (iptables, arptables).",
          sources=(Src("linux/netfilter_ipv4/ip_tables.h", r"IPT_SO_GET_\w+", exclude=r"\w+_MAX"),
                   Src("linux/netfilter_arp/arp_tables.h", r"ARPT_SO_GET_\w+", exclude=r"\w+_MAX"))),
    Table("IP_SET_OPTIONS", "SOL_IP options only setsockopt has (iptables, arptables).",
          sources=(Src("linux/netfilter_ipv4/ip_tables.h", r"IPT_SO_SET_\w+", exclude=r"\w+_MAX"),
                   Src("linux/netfilter_arp/arp_tables.h", r"ARPT_SO_SET_\w+", exclude=r"\w+_MAX"))),
    Table("IPV6_OPTIONS", "SOL_IPV6 options for both directions, with the shared MCAST_* ones.",
          sources=(Src("linux/in6.h", r"IPV6_\w+", start=r"#define IPV6_ADDRFORM",
                       exclude=r"IPV6_PMTUDISC_\w+|IPV6_PREFER_SRC_\w+"),
                   Src("linux/in.h", r"MCAST_\w+", exclude=r"MCAST_(EXCLUDE|INCLUDE)"))),
    Table("IPV6_GET_OPTIONS", "SOL_IPV6 options only getsockopt has (ip6tables).",
          sources=(Src("linux/netfilter_ipv6/ip6_tables.h", r"IP6T_SO_GET_\w+", exclude=r"\w+_MAX"),)),
    Table("IPV6_SET_OPTIONS", "SOL_IPV6 options only setsockopt has (ip6tables).",
          sources=(Src("linux/netfilter_ipv6/ip6_tables.h", r"IP6T_SO_SET_\w+", exclude=r"\w+_MAX"),)),
    Table("TCP_OPTIONS", "SOL_TCP options; TCP_COOKIE_TRANSACTIONS left the headers but strace keeps it.",
          sources=(Src("linux/tcp.h", r"TCP_\w+", start=r"#define TCP_NODELAY",
                       stop=r"#define TCP_REPAIR_ON"),),
          extra=((15, "TCP_COOKIE_TRANSACTIONS"),), extra_from="Linux 3.9 linux/tcp.h"),
    Table("UDP_OPTIONS", "SOL_UDP options.",
          sources=(Src("linux/udp.h", r"UDP_\w+", stop=r"#define UDP_ENCAP_ESPINUDP_NON_IKE"),)),
    Table("NETLINK_OPTIONS", "SOL_NETLINK options.",
          sources=(Src("linux/netlink.h", r"NETLINK_\w+", start=r"#define NETLINK_ADD_MEMBERSHIP",
                       stop=r"struct nl_pktinfo"),)),
    Table("SHUTDOWN_HOW", "shutdown()'s second argument.",
          sources=(Src(_h("@/sys/socket.h"), r"SHUT_\w+"),)),
    Table("SCM_TYPES", "SOL_SOCKET control message types, named as strace names them.",
          names=((SOCKET_H, "SCM_RIGHTS"), (SOCKET_H, "SCM_CREDENTIALS"),
                 (ASM_SOCKET_H, "SO_TIMESTAMP_OLD"), (ASM_SOCKET_H, "SO_TIMESTAMPNS_OLD"),
                 (ASM_SOCKET_H, "SO_TIMESTAMPING_OLD"), (ASM_SOCKET_H, "SO_WIFI_STATUS"),
                 (ASM_SOCKET_H, "SCM_TIMESTAMPING_OPT_STATS"), (ASM_SOCKET_H, "SCM_TIMESTAMPING_PKTINFO"),
                 (ASM_SOCKET_H, "SO_TXTIME"), (ASM_SOCKET_H, "SO_TIMESTAMP_NEW"),
                 (ASM_SOCKET_H, "SO_TIMESTAMPNS_NEW"), (ASM_SOCKET_H, "SO_TIMESTAMPING_NEW")),
          extra=((3, "SCM_SECURITY"),), extra_from=KERNEL_SOCKET_H),
    Table("FCNTL_COMMANDS", "fcntl() commands (x86_64 still names the 32-bit *LK64 ones).",
          sources=(Src("asm-generic/fcntl.h", r"F_\w+",
                       exclude=r"F_OWNER_\w+|F_(RD|WR|UN|EX|SH)LCK|F_LINUX_SPECIFIC_BASE"),
                   Src("linux/fcntl.h", r"F_\w+", exclude=r"F_SEAL_\w+")),
          strace_unknown=frozenset({"F_GET_RW_HINT", "F_SET_RW_HINT", "F_GET_FILE_RW_HINT",
                                    "F_SET_FILE_RW_HINT"})),
    Table("O_FLAGS", "dup3()'s only flag.", names=(("asm-generic/fcntl.h", "O_CLOEXEC"),), flags=True),
    Table("CLOSE_RANGE_FLAGS", "close_range() flags.",
          sources=(Src("linux/close_range.h", r"CLOSE_RANGE_\w+"),), flags=True),
    Table("CLONE_FLAGS", "clone() and unshare() flags (unshare(CLONE_FILES) gives a thread its own descriptors).",
          sources=(Src("linux/sched.h", r"CLONE_\w+", exclude=r"CLONE_ARGS_\w+"),), flags=True),
    Table("ERRNO_NAMES", "errno values; the kernel-internal ones show up as ? ERESTART* returns.",
          sources=(Src("asm-generic/errno-base.h", r"E[A-Z0-9]+"), Src("asm-generic/errno.h", r"E[A-Z0-9]+")),
          extra=((512, "ERESTARTSYS"), (513, "ERESTARTNOINTR"), (514, "ERESTARTNOHAND"),
                 (515, "ENOIOCTLCMD"), (516, "ERESTART_RESTARTBLOCK"), (517, "EPROBE_DEFER"),
                 (518, "EOPENSTALE"), (521, "EBADHANDLE"), (522, "ENOTSYNC"), (523, "EBADCOOKIE"),
                 (524, "ENOTSUPP"), (525, "ETOOSMALL"), (526, "ESERVERFAULT"), (527, "EBADTYPE"),
                 (528, "EJUKEBOX"), (529, "EIOCBQUEUED"), (530, "ERECALLCONFLICT")),
          extra_from="include/linux/errno.h of the kernel tree"),
    Table("SIGNAL_NAMES", "Signal numbers 1-32; strace prints 33-64 as SIGRT_<n-32>.",
          sources=(Src(_h("@/asm/signal.h"), r"SIG[A-Z0-9]+",
                       exclude=r"SIGIOT|SIGLOST|SIGUNUSED|SIGSTKSZ"),)),
)


# --------------------------------------------------------------------------
# Building and rendering


def _section(hdr: Header, src: Src) -> tuple[int, int]:
    """Line numbers [first, end) of the part of the header a source looks at."""
    first, end = 1, len(hdr.lines) + 1
    for marker, is_start in ((src.start, True), (src.stop, False)):
        if marker is None:
            continue
        hits = [n for n, text in enumerate(hdr.lines, 1) if re.search(marker, text)]
        if not hits:
            raise GenError(f"{hdr.rel}: no line matches {marker!r}")
        if is_start:
            first = hits[0]
        else:
            end = next((n for n in hits if n >= first), end)
    return first, end


def build(table: Table, syms: Symbols) -> dict[int, str]:
    """The table's value -> name mapping; ambiguous values are an error, not a silent choice."""
    entries: list[tuple[int, str]] = []
    for src in table.sources:
        hdr = syms.header(src.header)
        first, end = _section(hdr, src)
        for name in hdr.order:
            macro = hdr.macros[name]
            if macro.alias or not first <= macro.line < end or not re.fullmatch(src.pattern, name):
                continue
            if src.exclude and re.fullmatch(src.exclude, name):
                continue
            if name in table.strace_unknown:
                continue
            value = syms.value(name, hdr)
            if value is None:
                continue
            renamed = table.rename.get(name, name)
            if renamed.startswith("PF_"):
                renamed = "AF_" + renamed[3:]
            entries.append((value, renamed))
    for rel, name in table.names:
        hdr = syms.header(rel)
        value = syms.value(name, hdr)
        if value is None:
            raise GenError(f"{rel}: {name} is not defined as an integer constant")
        entries.append((value, name))
    entries.extend(table.extra)
    result: dict[int, str] = {}
    for value, name in entries:
        if value in result and result[value] != name:
            raise GenError(f"{table.name}: {value} is both {result[value]} and {name}; exclude one")
        result[value] = name
    if table.by_value:
        result = dict(sorted(result.items()))
    return result


def errno_messages(names: Mapping[int, str]) -> dict[int, str]:
    """strerror() text as strace prints it; numbers that only get "Unknown error N" are left out."""
    out: dict[int, str] = {}
    for value in names:
        text = STRACE_ERRNO_TEXT.get(value) or os.strerror(value)
        if text != f"Unknown error {value}":
            out[value] = text
    return out


def _pack(items: Iterable[str], indent: str = "    ") -> list[str]:
    """Fill lines up to LINE_LIMIT so the big tables stay short but still diff line by line."""
    lines: list[str] = []
    current = ""
    for item in items:
        candidate = f"{current} {item}" if current else indent + item
        if len(candidate) > LINE_LIMIT and current:
            lines.append(current)
            candidate = indent + item
        current = candidate
    if current:
        lines.append(current)
    return lines


def _comment(text: str) -> list[str]:
    return textwrap.wrap(text, LINE_LIMIT, initial_indent="# ", subsequent_indent="# ",
                         break_on_hyphens=False)


def _sources_comment(table: Table) -> list[str]:
    rels = [src.header for src in table.sources] + [rel for rel, _ in table.names]
    return _comment("From " + ", ".join(f"/usr/include/{rel}" for rel in dict.fromkeys(rels)))


def render_table(name: str, comments: list[str], table: Mapping[int, str],
                 hex_keys: bool = False) -> list[str]:
    lines = list(comments)
    items = [f"{value:#x}: {json.dumps(text)}," if hex_keys else f"{value}: {json.dumps(text)},"
             for value, text in table.items()]
    if not items:
        return [*lines, f"{name}: dict[int, str] = {{}}", ""]
    lines.append(f"{name}: dict[int, str] = {{")
    lines.extend(_pack(items))
    lines.append("}")
    lines.append("")
    return lines


def generate(root: Path) -> str:
    """The whole generated block, markers included."""
    syms = Symbols(root)
    out = [
        BEGIN,
        "# Do not edit by hand: run `python3 scripts/gen_xlat.py --write` (and --check in CI).",
        "# Values come from the installed headers; names follow strace 6.1, which is what sctrace mimics.",
        "",
    ]
    built: dict[str, dict[int, str]] = {}
    for table in TABLES:
        values = build(table, syms)
        built[table.name] = values
        comments = [*_comment(table.why), *_sources_comment(table)]
        if table.extra:
            listed = ", ".join(name for _, name in table.extra)
            comments.extend(_comment(f"Not in the uapi headers, from {table.extra_from}: {listed}."))
        if table.strace_unknown:
            listed = ", ".join(sorted(table.strace_unknown))
            comments.extend(_comment(f"Left out because strace 6.1 prints them as numbers: {listed}."))
        out.extend(render_table(table.name, comments, values, table.flags))
    comments = [
        "# errno texts: glibc's strerror(), which strace prints, and strace's own words for the",
        "# restart codes.  Numbers whose text would be \"Unknown error N\" are left out.",
    ]
    out.extend(render_table("ERRNO_MESSAGES", comments, errno_messages(built["ERRNO_NAMES"])))
    out.append(END)
    return "\n".join(out) + "\n"


def current_block(xlat: Path) -> tuple[str, str, str]:
    """Split xlat.py into (before, block, after) around the generated markers."""
    text = xlat.read_text(encoding="utf-8")
    start = text.find(BEGIN)
    stop = text.find(END)
    if start < 0 or stop < start:
        raise GenError(f"{xlat}: no {BEGIN!r} ... {END!r} block")
    stop += len(END) + 1
    return text[:start], text[start:stop], text[stop:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--include-dir", type=Path, default=Path("/usr/include"),
                        help="root of the C headers (default: /usr/include)")
    parser.add_argument("--xlat", type=Path, default=DEFAULT_XLAT, help="the xlat.py to check or write")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 with a diff when xlat.py disagrees")
    mode.add_argument("--write", action="store_true", help="replace the generated block in xlat.py")
    args = parser.parse_args(argv)
    try:
        block = generate(args.include_dir)
        if not (args.check or args.write):
            sys.stdout.write(block)
            return 0
        before, old, after = current_block(args.xlat)
    except GenError as exc:
        print(f"gen_xlat: {exc}", file=sys.stderr)
        return 2
    if args.write:
        if old != block:
            args.xlat.write_text(before + block + after, encoding="utf-8")
        return 0
    if old == block:
        return 0
    diff = difflib.unified_diff(old.splitlines(keepends=True), block.splitlines(keepends=True),
                                f"{args.xlat} (current)", "generated from headers")
    sys.stderr.writelines(diff)
    return 1


if __name__ == "__main__":
    sys.exit(main())
