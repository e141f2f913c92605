# SPDX-License-Identifier: GPL-2.0-or-later
"""Captured frames as a classic pcap file, which tcpdump, tshark and Wireshark read.

The format is libpcap's original one (pcap-savefile(5), and
https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-03.html): a 24-byte
file header, then per frame a 16-byte record header and the bytes.  The
nanosecond variant of the magic number keeps the kernel's timestamps whole.
Loopback frames carry a (zeroed) Ethernet header, so the link type is Ethernet,
as ``tcpdump -i lo -w`` writes it.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

from sctrace.status import ExitStatus, SctraceError

MAGIC_NANOSECONDS = 0xA1B23C4D  # record times in seconds and nanoseconds (0xA1B2C3D4: microseconds)
VERSION = (2, 4)
LINKTYPE_ETHERNET = 1  # https://www.tcpdump.org/linktypes.html (DLT_EN10MB)
_FILE_HEADER = struct.Struct("=IHHiIII")  # magic, major, minor, thiszone, sigfigs, snaplen, linktype
_RECORD_HEADER = struct.Struct("=IIII")  # seconds, nanoseconds, captured length, original length


class PcapWriter:
    """Writes frames to a pcap file opened at once, so a path that cannot be written fails before tracing."""

    def __init__(self, out: BinaryIO, path: str, snaplen: int, linktype: int = LINKTYPE_ETHERNET) -> None:
        self.out = out
        self.path = path
        self.snaplen = snaplen
        self.error: str | None = None
        self.written = 0
        self._put(_FILE_HEADER.pack(MAGIC_NANOSECONDS, *VERSION, 0, 0, snaplen, linktype))

    @classmethod
    def open(cls, path: str, snaplen: int = 262144) -> PcapWriter:
        """The writer for ``path``; SctraceError (status 73) when it cannot be created."""
        try:
            out = open(path, "wb")  # kept open for the whole trace; close() closes it
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise SctraceError(f"cannot write the pcap file {path}: {why}; choose another --pcap FILE",
                               ExitStatus.CANNOT_WRITE) from None
        writer = cls(out, path, snaplen)
        if writer.error is not None:
            writer.close()
            raise SctraceError(f"cannot write the pcap file {path}: {writer.error}; choose another --pcap FILE",
                               ExitStatus.CANNOT_WRITE)
        return writer

    def write(self, real_ns: int, frame: bytes, original_length: int) -> None:
        """One frame, stamped with CLOCK_REALTIME nanoseconds; at most snaplen bytes of it are kept."""
        data = frame[: self.snaplen]
        sec, nsec = divmod(real_ns, 1_000_000_000)
        self._put(_RECORD_HEADER.pack(sec, nsec, len(data), max(original_length, len(data))) + data)
        if self.error is None:
            self.written += 1

    def _put(self, data: bytes) -> None:
        """Writes fail quietly (a full disk must not stop the trace); close() tells what happened."""
        if self.error is not None:
            return
        try:
            self.out.write(data)
        except OSError as exc:
            self.error = exc.strerror or str(exc)

    def close(self) -> None:
        if self.out.closed:
            return
        try:
            self.out.close()
        except OSError as exc:
            if self.error is None:
                self.error = exc.strerror or str(exc)

    def notice(self) -> str | None:
        """What to tell the user when writing failed part-way."""
        if self.error is None:
            return None
        return f"the pcap file {self.path} is incomplete ({self.error}); {self.written} packets were written"


def side_path(path: str, side: str) -> str:
    """Where one side of a comparison writes its packets: ``run.pcap`` -> ``run.left.pcap``."""
    stem, dot, ext = path.rpartition(".")
    if not dot or "/" in ext:
        return f"{path}.{side}"
    return f"{stem}.{side}.{ext}"
