# SPDX-License-Identifier: GPL-2.0-or-later
"""The packets on the wire: capture the program's loopback traffic and describe it as tcpdump does.

A packet socket (AF_PACKET) is opened inside the program's network namespace
while the program is stopped before its exec, so it sees every frame from the
first.  Loopback shows each packet twice to a packet socket (once leaving,
once arriving); like libpcap, only the arriving copy is kept.  Frames are read
without blocking whenever the tracer reports an event, so a packet comes in
the trace before the call during which it was sent (a call's record is
written when it returns), and once more when tracing ends.

The kernel stamps each frame with CLOCK_REALTIME; the trace's ``t`` counts
CLOCK_MONOTONIC from the tracer's start, so the offset between the two clocks
is measured once and subtracted.

Each packet is decoded here (Ethernet, IPv4/IPv6, TCP/UDP) into the fields of
a ``packet`` event and one line in tcpdump 4.99's notation (``tcpdump -n``),
with sequence numbers relative per connection exactly as tcpdump computes them.
"""

from __future__ import annotations

import errno as _errno
import os
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sctrace.kernel import netns
from sctrace.kernel.pcap import PcapWriter
from sctrace.model.trace import PACKET_EVENT, Event

if TYPE_CHECKING:
    from sctrace.backends.ptrace.tracer import Tracer

# include/uapi/linux/if_ether.h
ETH_P_ALL, ETH_P_IP, ETH_P_IPV6 = 0x0003, 0x0800, 0x86DD
ETH_HLEN = 14
# include/uapi/linux/if_packet.h
PACKET_OUTGOING = 4
PACKET_IGNORE_OUTGOING = 23
SOL_PACKET = 263
PACKET_STATISTICS = 6  # struct tpacket_stats: tp_packets, tp_drops
# include/uapi/asm-generic/socket.h
SO_RCVBUFFORCE = 33
SO_TIMESTAMPNS = 35
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
# include/uapi/linux/in.h
IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6 = 1, 6, 17, 58

SNAPLEN = 262144  # tcpdump's default snapshot length
RCVBUF = 32 << 20  # frames wait here between two events; a 4 MiB transfer is ~70 frames of 64 KiB
_TIMESPEC = struct.Struct("=qq")

# TCP flag bits and the letter tcpdump prints for each, in tcpdump's order (print-tcp.c tcp_flag_values).
TCP_FLAGS: tuple[tuple[int, str], ...] = (
    (0x01, "F"), (0x02, "S"), (0x04, "R"), (0x08, "P"), (0x10, "."), (0x20, "U"), (0x40, "E"), (0x80, "W"),
)
TH_SYN, TH_ACK, TH_URG = 0x02, 0x10, 0x20
TH_SYN_FIN_RST = 0x07

# TCP option kinds and tcpdump's names for them (print-tcp.c tcp_option_values; IANA tcp-parameters).
TCP_OPTIONS: dict[int, str] = {
    0: "eol", 1: "nop", 2: "mss", 3: "wscale", 4: "sackOK", 5: "sack", 6: "echo", 7: "echoreply",
    8: "TS", 11: "cc", 12: "ccnew", 13: "", 19: "md5", 20: "scps", 28: "uto", 29: "tcp-ao",
    30: "mptcp", 34: "tfo", 254: "exp",
}
TCPOPT_EOL, TCPOPT_NOP = 0, 1


@dataclass
class _Conversation:
    """tcpdump's tcp_seq_hash entry: the initial numbers of one TCP conversation (both directions)."""

    seq: int
    ack: int


class TcpNumbering:
    """Relative sequence and acknowledgement numbers, computed exactly as tcpdump 4.99 does.

    Only segments with ACK are made relative.  The first such segment of a
    conversation (or any SYN) records the initial numbers and is printed
    absolute; later ones subtract them.  Both directions share one entry,
    keyed in an arbitrary but fixed order (the lower port first).
    """

    def __init__(self) -> None:
        self.conversations: dict[tuple[bytes, bytes, int, int], _Conversation] = {}
        self.initial: dict[tuple[bytes, int, bytes, int], int] = {}  # direction -> its initial sequence number

    def from_initial(self, src: bytes, dst: bytes, sport: int, dport: int, flags: int, seq: int,
                     ack: int) -> tuple[int, int | None]:
        """Wireshark's relative numbers: each direction counts from its SYN (or first segment seen), so
        a SYN is seq 0 and its SYN-ACK seq 0, ack 1.  The ack is None until the other direction is seen."""
        here, there = (src, sport, dst, dport), (dst, dport, src, sport)
        if flags & TH_SYN or here not in self.initial:
            self.initial[here] = seq
        base = self.initial.get(there)
        rel_ack = (ack - base) & 0xFFFFFFFF if flags & TH_ACK and base is not None else None
        return (seq - self.initial[here]) & 0xFFFFFFFF, rel_ack

    def relative(self, src: bytes, dst: bytes, sport: int, dport: int, flags: int, seq: int,
                 ack: int) -> tuple[int, int, bool, _Conversation | None]:
        """(seq, ack, rev, conversation) as tcpdump prints them."""
        if not flags & TH_ACK:
            return seq, ack, False, None
        rev = sport > dport or (sport == dport and src > dst)
        key = (dst, src, dport, sport) if rev else (src, dst, sport, dport)
        conv = self.conversations.get(key)
        if conv is None or flags & TH_SYN:
            if rev:
                conv = _Conversation(seq=(ack - 1) & 0xFFFFFFFF, ack=seq)
            else:
                conv = _Conversation(seq=seq, ack=(ack - 1) & 0xFFFFFFFF)
            self.conversations[key] = conv
            return seq, ack, rev, conv
        if rev:
            return (seq - conv.ack) & 0xFFFFFFFF, (ack - conv.seq) & 0xFFFFFFFF, rev, conv
        return (seq - conv.seq) & 0xFFFFFFFF, (ack - conv.ack) & 0xFFFFFFFF, rev, conv


def _flags_text(flags: int) -> str:
    return "".join(letter for bit, letter in TCP_FLAGS if flags & bit) or "none"


def _tcp_options(raw: bytes, rev: bool, conv: _Conversation | None) -> list[str]:
    """Each option as tcpdump prints it inside ``options [...]``; a malformed tail is ``[bad opt]``."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        kind = raw[i]
        if kind in (TCPOPT_EOL, TCPOPT_NOP):
            length = 1
        else:
            if i + 1 >= len(raw) or raw[i + 1] < 2 or raw[i + 1] > len(raw) - i:
                out.append("[bad opt]")
                return out
            length = raw[i + 1]
        data = raw[i + 2:i + length] if length > 1 else b""
        name = TCP_OPTIONS.get(kind, f"unknown-{kind}")
        if kind == 2 and len(data) == 2:
            text = f"{name} {int.from_bytes(data, 'big')}"
        elif kind == 3 and len(data) == 1:
            text = f"{name} {data[0]}"
        elif kind == 8 and len(data) == 8:
            val, ecr = struct.unpack("!II", data)
            text = f"{name} val {val} ecr {ecr}"
        elif kind == 5:
            if len(data) % 8:
                text = f"{name} invalid sack"
            else:
                base = 0 if conv is None else (conv.seq if rev else conv.ack)
                blocks = "".join(
                    f"{{{(s - base) & 0xFFFFFFFF}:{(e - base) & 0xFFFFFFFF}}}"
                    for s, e in struct.iter_unpack("!II", data)
                )
                text = f"{name} {len(data) // 8} {blocks}"
        elif kind in (TCPOPT_EOL, TCPOPT_NOP, 4):
            text = name
        else:
            text = name + (f" 0x{data.hex()}" if data else "")
        out.append(text)
        i += length
        if kind == TCPOPT_EOL:
            break
    return out


@dataclass
class Packet:
    """One decoded frame: the fields of a ``packet`` event and its tcpdump line."""

    fields: dict[str, Any] = field(default_factory=dict)
    summary: str = ""


def _ip_text(family: int, raw: bytes) -> str:
    return socket.inet_ntop(family, raw)


def decode_frame(frame: bytes, numbering: TcpNumbering) -> Packet:
    """Decode an Ethernet frame (loopback's has zero MAC addresses) the way ``tcpdump -n`` prints it."""
    if len(frame) < ETH_HLEN:
        return Packet({"proto": "?", "wire_length": len(frame)}, f"[|ether] length {len(frame)}")
    ethertype = int.from_bytes(frame[12:14], "big")
    ip = frame[ETH_HLEN:]
    if ethertype == ETH_P_IP and len(ip) >= 20 and ip[0] >> 4 == 4:
        ihl = (ip[0] & 0x0F) * 4
        total = int.from_bytes(ip[2:4], "big")
        proto = ip[9]
        src, dst = ip[12:16], ip[16:20]
        family, label, version = socket.AF_INET, "IP", "IPv4"
        frag = int.from_bytes(ip[6:8], "big") & 0x1FFF
        payload = ip[ihl:total] if frag == 0 else b""
        length = max(total - ihl, 0)
    elif ethertype == ETH_P_IPV6 and len(ip) >= 40 and ip[0] >> 4 == 6:
        length = int.from_bytes(ip[4:6], "big")
        proto = ip[6]
        src, dst = ip[8:24], ip[24:40]
        family, label, version = socket.AF_INET6, "IP6", "IPv6"
        payload = ip[40:40 + length]
    else:
        return Packet({"proto": f"ethertype 0x{ethertype:04x}", "wire_length": len(frame)},
                      f"ethertype 0x{ethertype:04x}, length {len(frame)}")
    saddr, daddr = _ip_text(family, src), _ip_text(family, dst)
    fields: dict[str, Any] = {"family": version, "src": saddr, "dst": daddr, "wire_length": len(frame)}
    if proto == IPPROTO_TCP and len(payload) >= 20:
        return _tcp(fields, label, src, dst, payload, length, numbering)
    if proto == IPPROTO_UDP and len(payload) >= 8:
        sport, dport, ulen = struct.unpack("!HHH", payload[:6])
        fields.update(proto="UDP", sport=sport, dport=dport, length=max(ulen - 8, 0))
        return Packet(fields, f"{label} {saddr}.{sport} > {daddr}.{dport}: UDP, length {max(ulen - 8, 0)}")
    if proto in (IPPROTO_ICMP, IPPROTO_ICMPV6) and len(payload) >= 8:
        fields.update(proto="ICMP" if proto == IPPROTO_ICMP else "ICMP6", icmp_type=payload[0],
                      icmp_code=payload[1], length=length)
        return Packet(fields, f"{label} {saddr} > {daddr}: {_icmp(proto, payload)}, length {length}")
    name = {IPPROTO_TCP: "tcp", IPPROTO_UDP: "udp"}.get(proto, f"ip-proto-{proto}")
    fields.update(proto=name.upper() if proto in (IPPROTO_TCP, IPPROTO_UDP) else name, length=length)
    return Packet(fields, f"{label} {saddr} > {daddr}: {name} {length}")


# ICMP messages as tcpdump names them (print-icmp.c icmp2str, print-icmp6.c icmp6_type_values); others
# are "type-#N".  Port unreachable (the answer to a datagram nobody receives) names the port, as tcpdump does.
ICMP_TYPES = {0: "echo reply", 8: "echo request"}
ICMP6_TYPES = {128: "echo request", 129: "echo reply"}
ICMP_UNREACH, ICMP_UNREACH_PORT = 3, 3
ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOPORT = 1, 4


def _icmp(proto: int, msg: bytes) -> str:
    kind, code = msg[0], msg[1]
    ident, seq = struct.unpack("!HH", msg[4:8])
    if proto == IPPROTO_ICMP:
        if kind in ICMP_TYPES:
            return f"ICMP {ICMP_TYPES[kind]}, id {ident}, seq {seq}"
        inner = msg[8:]
        if kind == ICMP_UNREACH and code == ICMP_UNREACH_PORT and len(inner) >= 20:
            ihl = (inner[0] & 0x0F) * 4
            if len(inner) >= ihl + 4 and inner[9] in (IPPROTO_TCP, IPPROTO_UDP):
                port = int.from_bytes(inner[ihl + 2:ihl + 4], "big")
                where = _ip_text(socket.AF_INET, inner[16:20])
                return f"ICMP {where} {'tcp' if inner[9] == IPPROTO_TCP else 'udp'} port {port} unreachable"
        return f"ICMP type-#{kind}"
    if kind in ICMP6_TYPES:
        return f"ICMP6, {ICMP6_TYPES[kind]}, id {ident}, seq {seq}"
    inner = msg[8:]
    if kind == ICMP6_DST_UNREACH and code == ICMP6_DST_UNREACH_NOPORT and len(inner) >= 44 \
            and inner[6] in (IPPROTO_TCP, IPPROTO_UDP):
        port = int.from_bytes(inner[42:44], "big")
        where = _ip_text(socket.AF_INET6, inner[24:40])
        return (f"ICMP6, destination unreachable, unreachable port, {where} "
                f"{'tcp' if inner[6] == IPPROTO_TCP else 'udp'} port {port}")
    return f"ICMP6, type-#{kind}"


def _tcp(fields: dict[str, Any], label: str, src: bytes, dst: bytes, seg: bytes, ip_length: int,
         numbering: TcpNumbering) -> Packet:
    sport, dport, seq_abs, ack_abs, off, flags, win, _sum, urp = struct.unpack("!HHIIBBHHH", seg[:20])
    hlen = (off >> 4) * 4
    length = ip_length - hlen
    seq, ack, rev, conv = numbering.relative(src, dst, sport, dport, flags, seq_abs, ack_abs)
    flag_text = _flags_text(flags)
    options = _tcp_options(seg[20:hlen], rev, conv) if hlen > 20 else []
    rel_seq, rel_ack = numbering.from_initial(src, dst, sport, dport, flags, seq_abs, ack_abs)
    fields.update(proto="TCP", sport=sport, dport=dport, flags=flag_text, seq_abs=seq_abs, ack_abs=ack_abs,
                  rel_seq=rel_seq, win=win, length=max(length, 0), options=options)
    if rel_ack is not None:
        fields["rel_ack"] = rel_ack
    text = [f"{label} {fields['src']}.{sport} > {fields['dst']}.{dport}: Flags [{flag_text}]"]
    if length > 0 or flags & TH_SYN_FIN_RST:
        fields["tcp_seq"] = seq
        text.append(f", seq {seq}" + (f":{(seq + length) & 0xFFFFFFFF}" if length > 0 else ""))
        if length > 0:
            fields["tcp_seq_end"] = (seq + length) & 0xFFFFFFFF
    if flags & TH_ACK:
        fields["tcp_ack"] = ack
        text.append(f", ack {ack}")
    text.append(f", win {win}")
    if flags & TH_URG:
        fields["urg"] = urp
        text.append(f", urg {urp}")
    if options:
        text.append(f", options [{','.join(options)}]")
    text.append(f", length {max(length, 0)}")
    return Packet(fields, "".join(text))


def _in_own_namespace() -> bool:
    """Whether sctrace itself runs in a namespace made for the trace (compare --client/--server makes one).

    Such a namespace has loopback only; the host's has its network interfaces too.  (Comparing with
    /proc/1/ns/net would be exact, but reading it is refused even to root in many containers.)
    """
    try:
        with open("/proc/self/net/dev") as f:
            names = [line.split(":", 1)[0].strip() for line in f.readlines()[2:]]
    except OSError:
        return False
    return names == ["lo"]


def _packet_socket() -> socket.socket:
    return socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))


def _clock_offset_ns() -> int:
    """CLOCK_REALTIME minus CLOCK_MONOTONIC, read where the two reads are closest together."""
    best: tuple[int, int] | None = None
    for _ in range(5):
        a = time.monotonic_ns()
        real = time.time_ns()
        b = time.monotonic_ns()
        if best is None or b - a < best[0]:
            best = (b - a, real - (a + b) // 2)
    assert best is not None
    return best[1]


class Capture:
    """The program's loopback traffic, read at each event: pcap records and ``packet`` event fields.

    ``open`` is called while the program is stopped before its exec (inside
    its namespace); it returns a notice instead of raising when capture is not
    permitted, and tracing goes on without packets.
    """

    def __init__(self, pcap: PcapWriter | None = None, events: bool = True) -> None:
        self.pcap = pcap
        self.events = events
        self.sock: socket.socket | None = None
        self.numbering = TcpNumbering()
        self.t0_ns = 0
        self.offset_ns = 0
        self._buf = bytearray(SNAPLEN)
        self._anc = socket.CMSG_SPACE(_TIMESPEC.size)

    def open(self, pid: int, t0: float, own_netns: bool, isolated: bool) -> str | None:
        """Start capturing on lo in ``pid``'s network namespace; a notice when that is not possible.

        ``own_netns``: the program was given a namespace of its own (else it shares ours);
        ``isolated``: no program but the traced ones uses that namespace.
        """
        self.offset_ns = _clock_offset_ns()
        self.t0_ns = round(t0 * 1e9)
        try:
            if own_netns:
                made: socket.socket | OSError | None = None
                try:
                    with netns.inside(pid):
                        try:
                            made = _packet_socket()
                        except OSError as exc:
                            made = exc
                except OSError as exc:
                    if made is None:
                        return (f"cannot capture packets (cannot enter the program's network namespace: "
                                f"{os.strerror(exc.errno or 0)}); going on without packets")
                if isinstance(made, OSError):
                    raise made
                assert made is not None
                sock = made
            else:  # the program shares our namespace (entering it again would need CAP_SYS_ADMIN)
                sock = _packet_socket()
            try:
                self._configure(sock)
            except OSError:
                sock.close()
                raise
        except OSError as exc:
            why = os.strerror(exc.errno) if exc.errno else str(exc)
            if exc.errno in (_errno.EPERM, _errno.EACCES):
                return (f"cannot capture packets ({why}: a packet socket needs CAP_NET_RAW; run sctrace as root "
                        "or give it cap_net_raw); going on without packets")
            return f"cannot capture packets ({why}); going on without packets"
        self.sock = sock
        if not isolated:
            return "packets are captured on the host's loopback: other programs' traffic there is mixed in"
        return None

    def _configure(self, sock: socket.socket) -> None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        try:  # the kernel drops loopback's outgoing copy itself (Linux 4.20+)
            sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        except OSError:
            pass
        sock.bind(("lo", ETH_P_ALL))
        sock.setblocking(False)

    def take(self) -> list[tuple[float, Packet]]:
        """Every frame captured since the last call, as (t, packet); written to the pcap file too."""
        sock = self.sock
        if sock is None:
            return []
        got: list[tuple[float, Packet]] = []
        buf = self._buf
        while True:
            try:
                nbytes, anc, _flags, addr = sock.recvmsg_into([buf], self._anc, socket.MSG_TRUNC)
            except OSError:  # EAGAIN: all read
                break
            if addr[2] == PACKET_OUTGOING:  # loopback's other copy, where PACKET_IGNORE_OUTGOING is unknown
                continue
            stamp = next((data for level, kind, data in anc
                          if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS), None)
            if stamp is not None and len(stamp) >= _TIMESPEC.size:
                sec, nsec = _TIMESPEC.unpack_from(stamp)
                real_ns = sec * 1_000_000_000 + nsec
            else:
                real_ns = time.time_ns()
            kept = min(nbytes, len(buf))
            frame = bytes(buf[:kept])
            if self.pcap is not None:
                self.pcap.write(real_ns, frame, nbytes)
            if self.events:
                packet = decode_frame(frame, self.numbering)
                packet.fields["time"] = real_ns / 1e9
                got.append(((real_ns - self.offset_ns - self.t0_ns) / 1e9, packet))
        return got

    def close(self) -> list[str]:
        """Stop capturing; notices about frames the kernel had to drop."""
        notices: list[str] = []
        if self.sock is not None:
            try:
                _packets, drops = struct.unpack("II", self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
                if drops:
                    notices.append(f"{drops} packets were dropped by the kernel (the capture buffer was full)")
            except OSError:
                pass
            self.sock.close()
            self.sock = None
        if self.pcap is not None:
            self.pcap.close()
            if (notice := self.pcap.notice()) is not None:
                notices.append(notice)
        return notices


def packet_event(t: float, packet: Packet) -> Event:
    """A ``packet`` event (docs/trace-format.md); ``seq`` is set where the trace is assembled."""
    return Event(PACKET_EVENT, 0, 0, t, info={**packet.fields, "summary": packet.summary})


class PacketFeed:
    """The capture a run asked for (--packets, --pcap), fed to the trace between the tracer's events."""

    def __init__(self, capture: Capture) -> None:
        self.capture = capture
        self.active = False

    @classmethod
    def for_options(cls, packets: bool, pcap: str | None) -> PacketFeed | None:
        """None when no capture is wanted; SctraceError (status 73) when the pcap file cannot be written."""
        if not packets and pcap is None:
            return None
        writer = PcapWriter.open(pcap, SNAPLEN) if pcap is not None else None
        return cls(Capture(writer, events=packets))

    def attach(self, tracer: Tracer) -> None:
        """The tracer's on_attached hook: the program is stopped in its namespace, not yet exec'd."""
        isolated = tracer.netns or _in_own_namespace()  # compare's --client/--server: the worker made one
        notice = self.capture.open(tracer.main_pid, tracer.t0, tracer.netns, isolated)
        self.active = self.capture.sock is not None
        if notice is not None:
            tracer.outcome.notices.append(notice)

    def events(self) -> list[Event]:
        """The packets captured since the last call, as events in the order they arrived."""
        return [packet_event(t, packet) for t, packet in self.capture.take()]

    def close(self) -> list[str]:
        return self.capture.close()
