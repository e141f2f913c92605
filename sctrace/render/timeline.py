# SPDX-License-Identifier: GPL-2.0-or-later
"""What the lecture reports (HTML, Mermaid) show of a trace besides the calls: states, packets, who is who.

A trace made with ``--states`` carries the kernel's TCP state of a socket
after each call (``tcp_state`` in the event's info) and ``state`` events for
sockets already closed whose state changes later (TIME_WAIT); one made with
``--packets`` carries ``packet`` events (src, dst, sport, dport, flags,
tcp_seq, tcp_ack, win, length and tcpdump's ``summary``; docs/trace-format.md).  Everything here works without
them, and reads them defensively: a missing or odd key degrades to less
detail, never to an error.

Packets go between the program and its peer.  Which end is the program's is
read from the ports of its own sockets (the local half of every endpoint it
used): a packet from one of those ports to another port goes out, the
reverse comes in, and a packet between two of the program's own ports (a
program that talks to itself) stays within it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import IO, Any

from sctrace.model.trace import Event, Header, Trace

PEER_LANE = "peer"  # Event.info["lane"] of an explicit peer program's events (compare --client/--server)
CONTEXT_TYPES = ("packet", "state")
PROCESS_TYPES = ("exit", "killed", "signal")

# The port at the end of "1.2.3.4:80", "[::1]:80".
_PORT = re.compile(r":(\d+)$")


def trace_of(obj: object) -> Trace | None:
    """The whole trace a comparison side carries (``side.trace``), when the comparison kept it."""
    trace = getattr(obj, "trace", None)
    return trace if isinstance(trace, Trace) else None


def tcp_state(ev: Event) -> str | None:
    state = ev.info.get("tcp_state")
    return str(state) if state else None


def is_peer(ev: Event) -> bool:
    return ev.info.get("lane") == PEER_LANE


def local_ports(events: Iterable[Event]) -> set[int]:
    """The ports of the program's own sockets (not its peer lane's), from the endpoints the kernel described."""
    ports: set[int] = set()
    for ev in events:
        if ev.type != "syscall" or is_peer(ev):
            continue
        for endpoint in (ev.endpoint, ev.ret_endpoint):
            port = _local_port(endpoint)
            if port is not None:
                ports.add(port)
        addr = ev.args.get("addr")
        if ev.name == "bind" and isinstance(addr, dict) and isinstance(addr.get("port"), int) and addr["port"]:
            ports.add(int(addr["port"]))
    return ports


def _local_port(endpoint: str | None) -> int | None:
    """``TCP:[127.0.0.1:1234->127.0.0.1:45500]`` -> 1234; ``TCP:[0.0.0.0:1234]`` -> 1234; ``TCP:[98765]`` -> None."""
    if not endpoint or "[" not in endpoint:
        return None
    inner = endpoint[endpoint.find("[") + 1: endpoint.rfind("]")]
    local = inner.split("->", 1)[0]
    match = _PORT.search(local)
    return int(match.group(1)) if match else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def packet_direction(ev: Event, ports: set[int]) -> str:
    """"out" (program to peer), "in" (peer to program), "self" (between the program's own sockets)."""
    sport, dport = _int(ev.info.get("sport")), _int(ev.info.get("dport"))
    mine_from, mine_to = sport in ports, dport in ports
    if mine_from and mine_to:
        return "self"
    if mine_to:
        return "in"
    return "out" if mine_from else "in"


_OPTIONS = re.compile(r", options \[[^\]]*\]")


def packet_summary(ev: Event, *, options: bool = False) -> str:
    """The packet without its addresses: ``Flags [S], seq 0, win 65495, length 0`` (tcpdump's words).

    From the ``summary`` tcpdump would print (the part after the addresses), else built from the fields.
    TCP options (mss, timestamps, ...) are left out unless asked for: on a slide they hide the rest.
    """
    text = ev.info.get("summary", ev.info.get("text"))
    if isinstance(text, str) and text:
        head, sep, rest = text.partition(": ")
        rest = rest if sep and ">" in head else text
        return rest if options else _OPTIONS.sub("", rest)
    info = ev.info
    parts = []
    if info.get("flags") is not None:
        parts.append(f"Flags [{info['flags']}]")
    if info.get("tcp_seq") is not None:
        end = info.get("tcp_seq_end")
        parts.append(f"seq {info['tcp_seq']}" + (f":{end}" if end is not None else ""))
    for key, word in (("tcp_ack", "ack"), ("win", "win"), ("length", "length")):
        if info.get(key) is not None:
            parts.append(f"{word} {info[key]}")
    proto = info.get("proto")
    return ", ".join(parts) or (str(proto) if proto else "packet")


def packet_flags(ev: Event) -> str:
    """The flag letters ("S", "S.", "F.", "R") for colouring: SYN, FIN and RST stand out."""
    flags = ev.info.get("flags")
    if isinstance(flags, list):
        return "".join(str(f) for f in flags)
    if flags is not None:
        return "" if flags == "none" else str(flags)
    match = re.search(r"Flags \[([^\]]*)\]", str(ev.info.get("summary", ev.info.get("text", ""))))
    return match.group(1) if match else ""


def packet_ports(ev: Event) -> str:
    """``45500 > 1234``: the ports alone, for a diagram where every address is the loopback's."""
    sport, dport = ev.info.get("sport"), ev.info.get("dport")
    return f"{sport} > {dport}" if sport is not None and dport is not None else ""


def packet_ends(ev: Event) -> str:
    """``127.0.0.1:45500 > 127.0.0.1:1234``, or "" when the packet carries no addresses."""
    info = ev.info
    if info.get("src") is None and info.get("sport") is None:
        return ""
    return f"{info.get('src', '?')}:{info.get('sport', '?')} > {info.get('dst', '?')}:{info.get('dport', '?')}"


def state_text(ev: Event) -> str:
    """A ``state`` event in words: ``TCP:[127.0.0.1:1234->127.0.0.1:45500] is now TIME_WAIT``."""
    endpoint = ev.info.get("endpoint") or "a closed socket"
    return f"{endpoint} is now {ev.info.get('tcp_state', '?')}"


def lecture_events(events: Sequence[Event]) -> list[Event]:
    """The events a timeline shows: socket calls, packets, states, and what befell the socket-making processes.

    Process bookkeeping (the forks, execs and SIGCHLDs of an interpreter's
    start-up, a version manager's shell scripts) is left out: a process's
    signals and end are shown once it has made a socket call.  It is not what
    a lecture on sockets is about, and the text and JSON outputs keep all of it.
    """
    shown: list[Event] = []
    socket_pids: set[int] = set()  # processes that have made a socket call so far
    for ev in events:
        if ev.type == "syscall":
            socket_pids.add(ev.pid)
        if ev.type == "syscall" or ev.type in CONTEXT_TYPES or (ev.type in PROCESS_TYPES and ev.pid in socket_pids):
            shown.append(ev)
    return shown


def attach_context(steps: Sequence[Event | None], context: Sequence[Event]) -> dict[int, list[Event]]:
    """Each packet or state event placed after the last step (by index) that began before it.

    steps are the events of one side's rows in row order (None where that side
    has no call); context events before every step go under index -1.
    """
    timed = sorted(((ev.t, i) for i, ev in enumerate(steps) if ev is not None), key=lambda p: p[0])
    out: dict[int, list[Event]] = {}
    j, last = 0, -1
    for ev in sorted(context, key=lambda e: e.t):
        while j < len(timed) and timed[j][0] <= ev.t:
            last = max(last, timed[j][1])
            j += 1
        out.setdefault(last, []).append(ev)
    return out


class WholeTraceRenderer:
    """A trace renderer for a document made of the whole trace (an HTML page, a diagram): it collects the
    header and events, and writes ``document(header, events)`` when the trace ends."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.header_: Header | None = None
        self.events: list[Event] = []

    def header(self, header: Header) -> None:
        self.header_ = header

    def event(self, ev: Event) -> None:
        self.events.append(ev)

    def close(self) -> None:
        self.out.write(self.document(self.header_, self.events))
        self.out.flush()

    def document(self, header: Header | None, events: list[Event]) -> str:
        raise NotImplementedError
