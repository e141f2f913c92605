"""The rules by which two socket calls count as the same, listed in one place.

Programs in different languages reach the same socket state through different
calls: PHP's socket_accept is accept(2), Python's accept() is accept4(2) with
SOCK_CLOEXEC; PHP reads 64 bytes where Python reads 1024.  Each such
equivalence is one named rule here, so that `sctrace compare --rules` can list
them and a comparison can say which rule made two rows equal.

Raw and stable rules rename what never compares (pointers, pids, descriptor
numbers, ports, inodes); they need the whole trace and normalize.py applies
them.  Semantic rules are small pure functions: most look at one call (a Call)
and return it rewritten, or None when they do not apply (call_rules.py); the
sequence rules look at one process's calls in order and join runs of them
(run_rules.py).  Each runs once, in RULES order, so a later rule sees what an
earlier one made (recv_is_read turns recvfrom into read before buffer_size
looks for read's size).  A semantic rule's docstring is its summary in
`sctrace compare --rules`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass

from sctrace.compare.call import Call, Path
from sctrace.compare.call_rules import (
    BUFFER_SIZE_CALLS,
    STATE_READERS,
    accept_is_accept4,
    buffer_size,
    default_protocol,
    listen_backlog,
    name_service,
    recv_is_read,
    send_is_write,
    single_iov,
    socket_flags,
    state_readers,
    sun_path_nul,
    unused_source_address,
)
from sctrace.compare.sequence_rules import eof_repeats, stream_chunks

__all__ = [
    "RULES", "Call", "Path", "Rule", "accept_is_accept4", "apply_rules", "apply_run_rules", "buffer_size",
    "default_protocol", "describe_rules", "eof_repeats", "listen_backlog", "name_service", "recv_is_read",
    "send_is_write", "single_iov", "socket_flags", "state_readers", "stream_chunks", "sun_path_nul",
    "unused_source_address",
]


@dataclass(frozen=True)
class Rule:
    """One equivalence, as `sctrace compare --rules` explains it.

    A semantic rule has ``apply`` (one call) or ``apply_run`` (one process's
    calls, and the trace's string limit); raw and stable rules are trace-wide
    renamings carried out by normalize.py and have neither.  ``names`` are the
    only call names ``apply`` can rewrite (None: any), so that a call meets
    only the rules that may change it.
    """

    name: str
    level: str
    summary: str
    example_before: str
    example_after: str
    apply: Callable[[Call], Call | None] | None = None
    apply_run: Callable[[list[Call], int], list[Call]] | None = None
    names: frozenset[str] | None = None


def _summary(fn: Callable[..., object]) -> str:
    return " ".join((fn.__doc__ or "").split())


RULES: list[Rule] = [
    Rule("pointers", "raw",
         "An address in the traced program's memory (an argument that could not be read) differs from run to run "
         "and says nothing about the call, so it is PTR in the key.",
         "recvmsg(4, {msg_name=0x7ffc7b99afa0, ...}, 0)", "recvmsg(4, {msg_name=PTR, ...}, 0)"),
    Rule("process_roles", "stable",
         "Pids differ between runs: processes and threads are P1, P2, ... in the order of their first socket call.",
         "[pid 4242] socket(...); [pid 4250] connect(...)", "P1 socket(...); P2 connect(...)"),
    Rule("descriptor_roles", "stable",
         "Descriptor numbers depend on what else a runtime has open (PHP starts at 4, Node near 20), so a "
         "descriptor becomes the role of its socket, numbered per process in order of appearance: L1, L2 for "
         "listening sockets (listen or accept called on them), C1, C2 for connection stream sockets (returned by "
         "accept, or connect called on them, whether it succeeded, is in progress or failed), S1, S2 for the "
         "others (UDP, unconnected, socketpair ends), N1, N2 for the C library's sockets to name-service daemons "
         "(nscd, systemd, sssd: see name_service), so that they shift no other number. The role is decided by "
         "looking ahead and follows the "
         "socket across fork, threads and dup (a descriptor first seen in use is matched to a socket by its "
         "endpoint; one received in SCM_RIGHTS is a new socket). It replaces the descriptor everywhere: fd "
         "arguments, socket/accept results, socketpair's pair, SCM_RIGHTS data.",
         "socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 4; listen(4, 1); accept(4, ...) = 6",
         "socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = L1; listen(L1, 1); accept(L1, ...) = C1"),
    Rule("service_ports", "stable",
         "A server on port 0 gets a new port each run: ports listened on, bound explicitly, connected to or sent "
         "to are PORT1, PORT2, ... in order of first appearance, the same number the same name throughout the "
         "trace. Port 0 stays 0.",
         "connect(C1, {AF_INET, 127.0.0.1:41955}, 16)", "connect(C1, {AF_INET, 127.0.0.1:PORT1}, 16)"),
    Rule("ephemeral_ports", "stable",
         "Any other port is one the kernel chose for a client (the peer port accept or recvfrom reports, a "
         "reply's destination), and is EPHEMERAL.",
         "accept(L1, {AF_INET, 127.0.0.1:34664}, [16]) = C2", "accept(L1, {AF_INET, 127.0.0.1:EPHEMERAL}, [16]) = C2"),
    Rule("inodes", "stable",
         "Socket inode numbers in endpoints are INODE; endpoints get the same port names as arguments.",
         "TCP:[755897]; TCP:[127.0.0.1:41955->127.0.0.1:34664]",
         "TCP:[INODE]; TCP:[127.0.0.1:PORT1->127.0.0.1:EPHEMERAL]"),
    *(Rule(fn.__name__, "semantic", _summary(fn), before, after, fn, names=frozenset(names) if names else None)
      for fn, names, before, after in [
        (name_service, None, 'connect(N1, {AF_UNIX, "/var/run/nscd/socket"}, 110) = -1 ENOENT',
         "the same call, marked informational"),
        (state_readers, STATE_READERS, "getsockname(C2, {AF_INET, 127.0.0.1:PORT1}, [128 => 16]) = 0",
         "the same call, marked informational"),
        (unused_source_address, ("recvfrom", "recvmsg"), 'recvfrom(C2, "hi", 64, 0, 0x7ffc12830be0, [4096 => 0]) = 2',
         'recvfrom(C2, "hi", 64, 0, NULL, NULL) = 2'),
        (accept_is_accept4, ("accept4",), "accept4(L1, {...}, [16], SOCK_CLOEXEC) = C2",
         "accept(L1, {...}, [16]) = C2 (noted: SOCK_CLOEXEC)"),
        (recv_is_read, ("recvfrom", "recv"), 'recvfrom(C2, "hello\\n", 64, 0, NULL, NULL) = 6',
         'read(C2, "hello\\n", 64) = 6'),
        (send_is_write, ("sendto", "send"), 'sendto(C1, "hello\\n", 6, 0, NULL, 0) = 6',
         'write(C1, "hello\\n", 6) = 6'),
        (single_iov, ("readv", "writev", "sendmsg", "recvmsg"),
         'sendmsg(S2, {msg_name={AF_INET, 127.0.0.1:PORT1}, msg_namelen=16, msg_iov=[{"ping", 4}], '
         'msg_flags=0}, 0) = 4', 'sendto(S2, "ping", 4, 0, {AF_INET, 127.0.0.1:PORT1}, 16) = 4'),
        (socket_flags, ("socket", "socketpair"), "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_TCP) = L1",
         "socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = L1 (noted: SOCK_CLOEXEC)"),
        (default_protocol, ("socket", "socketpair"), "socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = S1",
         "socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP) = S1"),
        (sun_path_nul, ("bind", "connect", "sendto"), 'bind(L1, {AF_UNIX, "/tmp/s"}, 8) = 0',
         'bind(L1, {AF_UNIX, "/tmp/s"}, 9) = 0'),
        (listen_backlog, ("listen",), "listen(L1, 0) = 0", "listen(L1, 128) = 0: the same key"),
        (buffer_size, BUFFER_SIZE_CALLS, 'read(C2, "hello\\n", 1024) = 6; accept(L1, {...}, [128 => 16]) = C2',
         'read(C2, "hello\\n", 64) = 6; accept(L1, {...}, [16]) = C2: the same keys'),
    ]),
    *(Rule(fn.__name__, "semantic", _summary(fn), before, after, apply_run=fn) for fn, before, after in [
        (eof_repeats, 'read(C1, "", 1) = 0; read(C1, "", 1) = 0; read(C1, "", 1) = 0', 'read(C1, "", 1) = 0'),
        (stream_chunks, 'read(C1, "h", 1) = 1; read(C1, "i", 1) = 1; read(C1, "\\n", 1) = 1',
         'read(C1, "hi\\n", 3) = 3'),
    ]),
]

OneCall = Callable[[Call], Call | None]
Chain = tuple[tuple[int, str, OneCall], ...]
# For a call name and a place in RULES, the one-call rules after it that may rewrite a call of that name, with
# their places (filled in as names come: a trace has a few dozen).
_CHAINS: dict[tuple[str, int], Chain] = {}
_FIRST: dict[str, Chain] = {}  # _CHAINS[(name, -1)], by name alone


def _chain(name: str, after: int) -> Chain:
    chain = _CHAINS.get((name, after))
    if chain is None:
        chain = _CHAINS[(name, after)] = tuple(
            (i, rule.name, rule.apply) for i, rule in enumerate(RULES)
            if i > after and rule.apply is not None and (rule.names is None or name in rule.names))
        if after < 0:
            _FIRST[name] = chain
    return chain


def apply_rules(call: Call) -> Call:
    """call after every semantic rule of one call, in order; call.rules names those that changed it.

    Only the rules that may rewrite a call of its name run; a rule that renames
    the call (recv_is_read) hands it on to the later rules for its new name.
    """
    name = call.name
    chain = _FIRST.get(name) or _chain(name, -1)
    applied: tuple[str, ...] = ()
    k = 0
    while k < len(chain):
        i, rule, apply = chain[k]
        k += 1
        out = apply(call)
        # out != call, compared as the fields' dicts: a Call's __eq__ builds a tuple of its fields for each side.
        if out is not None and out is not call and (out.name != name or out.__dict__ != call.__dict__):
            call = out
            applied += (rule,)
            if out.name != name:
                name = out.name
                chain = _CHAINS.get((name, i)) or _chain(name, i)
                k = 0
    if applied:
        # No rule reads or sets rules, so the names are added once, at the end.  A rule's Call is a new one
        # that only this function holds yet, so it is given its rules rather than copied once more.
        call.__dict__["rules"] = call.rules + applied
    return call


def apply_run_rules(calls: list[Call], limit: int) -> list[Call]:
    """One process's calls, in order, after the sequence rules (limit: the trace's payload bytes per buffer)."""
    for rule in RULES:
        if rule.apply_run is not None:
            calls = rule.apply_run(calls, limit)
    return calls


def describe_rules() -> str:
    """What `sctrace compare --rules` prints: every rule, one paragraph each, with its example."""
    paragraphs = []
    for rule in RULES:
        head = f"{rule.name} ({rule.level}): {rule.summary}"
        body = textwrap.fill(head, width=100, subsequent_indent="    ")
        body += f"\n    before: {rule.example_before}\n    after:  {rule.example_after}"
        paragraphs.append(body)
    intro = ("Levels: raw compares calls as traced; stable also renames what differs between runs (the raw and "
             "stable rules); semantic (the default) also applies the semantic rules, and a row they make equal is "
             "shown as equivalent with the rules' names.")
    return textwrap.fill(intro, width=100) + "\n\n" + "\n\n".join(paragraphs)
