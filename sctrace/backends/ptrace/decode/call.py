"""What a decoder works on: the stopped call and its memory, the helpers that read buffers and
numbers from it, and the tables DECODERS and ENTRY that each decoder registers in by name.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sctrace.model.escape import escape_bytes


class Memory:
    """Reads a stopped tracee's memory through /proc/PID/mem (one pread a read)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._fd: int | None = None

    def read(self, addr: int, size: int) -> bytes | None:
        """``size`` bytes at ``addr``, or None where the tracee's memory cannot be read."""
        if size <= 0:
            return b""
        if self._fd is None:
            try:
                self._fd = os.open(f"/proc/{self.pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return None
        try:
            return os.pread(self._fd, size, addr)
        except (OSError, OverflowError):
            return None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass
class Call:
    """What a decoder sees: the raw arguments, the result, the tracee's memory."""

    name: str
    args: tuple[int, ...]
    mem: Memory
    limit: int
    ret: int = 0
    entry: Any = None
    # Descriptors the call created or received, for the descriptor table.
    new_fds: list[int] = field(default_factory=list)


def pointer(addr: int) -> str | None:
    return None if addr == 0 else hex(addr)


def buffer(call: Call, addr: int, true_len: int) -> dict[str, Any] | str | None:
    """A data buffer as strace shows it: at most ``limit`` bytes, true length kept."""
    if addr == 0:
        return None
    shown = min(true_len, call.limit)
    data = call.mem.read(addr, shown)
    if data is None:
        return hex(addr)
    result: dict[str, Any] = {"text": escape_bytes(data, None), "len": true_len}
    if true_len > shown:
        result["truncated"] = True
    return result


def signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def read_u32(call: Call, addr: int) -> int | None:
    if addr == 0:
        return None
    data = call.mem.read(addr, 4)
    if data is None or len(data) < 4:
        return None
    return int.from_bytes(data, "little")


Decoder = Callable[[Call], dict[str, Any]]
EntryHook = Callable[[Call], Any]

DECODERS: dict[str, Decoder] = {}
ENTRY: dict[str, EntryHook] = {}


def decoder(*names: str) -> Callable[[Decoder], Decoder]:
    def register(fn: Decoder) -> Decoder:
        for name in names:
            DECODERS[name] = fn
        return fn

    return register


def entry_hook(*names: str) -> Callable[[EntryHook], EntryHook]:
    def register(fn: EntryHook) -> EntryHook:
        for name in names:
            ENTRY[name] = fn
        return fn

    return register

