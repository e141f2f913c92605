"""Decoders of descriptor I/O and descriptor-table calls (strace's io.c, desc.c, fcntl.c)."""

from __future__ import annotations

from typing import Any

from sctrace.backends.ptrace.decode.call import Call, buffer, decoder, pointer, signed32
from sctrace.model import xlat

IOVEC_SIZE = 16  # struct iovec { void *iov_base; size_t iov_len; }
MAX_IOV_SHOWN = 1024  # UIO_MAXIOV


def iovec(call: Call, addr: int, count: int, transferred: int) -> list[dict[str, Any]] | str | None:
    """An iovec array; ``transferred`` bytes are shown, spread over the buffers in order.

    For a write this is what the kernel took, for a read what it filled:
    strace shows the same.  -1 (a failed call) shows no contents.
    """
    if addr == 0:
        return None
    count = max(0, min(count, MAX_IOV_SHOWN))
    raw = call.mem.read(addr, count * IOVEC_SIZE)
    if raw is None or len(raw) < count * IOVEC_SIZE:
        return hex(addr)
    remaining = transferred
    out: list[dict[str, Any]] = []
    for i in range(count):
        base = int.from_bytes(raw[i * 16 : i * 16 + 8], "little")
        size = int.from_bytes(raw[i * 16 + 8 : i * 16 + 16], "little")
        if remaining < 0:
            shown: Any = pointer(base)
        else:
            take = min(size, remaining)
            remaining -= take
            shown = buffer(call, base, take)
        out.append({"base": shown, "len": size})
    return out


@decoder("read", "write")
def read(call: Call) -> dict[str, Any]:
    fd, buf, count = call.args[0], call.args[1], call.args[2]
    if call.ret >= 0:
        data = buffer(call, buf, min(call.ret, count))
    elif call.name == "write":
        data = buffer(call, buf, count)
    else:
        data = pointer(buf)
    return {"fd": signed32(fd), "buf": data, "count": count}


@decoder("readv", "writev")
def readv(call: Call) -> dict[str, Any]:
    fd, iov, count = call.args[0], call.args[1], signed32(call.args[2])
    shown = call.ret
    if shown < 0 and call.name == "writev":
        shown = 1 << 62  # a failed write: show what it tried to write
    return {"fd": signed32(fd), "iov": iovec(call, iov, count, shown), "iovcnt": count}


@decoder("close")
def close(call: Call) -> dict[str, Any]:
    return {"fd": signed32(call.args[0])}


@decoder("dup")
def dup(call: Call) -> dict[str, Any]:
    return {"oldfd": signed32(call.args[0])}


@decoder("dup2")
def dup2(call: Call) -> dict[str, Any]:
    return {"oldfd": signed32(call.args[0]), "newfd": signed32(call.args[1])}


@decoder("dup3")
def dup3(call: Call) -> dict[str, Any]:
    return {
        "oldfd": signed32(call.args[0]),
        "newfd": signed32(call.args[1]),
        "flags": xlat.flags(signed32(call.args[2]), xlat.O_FLAGS, "O_???"),
    }


@decoder("fcntl")
def fcntl(call: Call) -> dict[str, Any]:
    cmd = signed32(call.args[1])
    return {
        "fd": signed32(call.args[0]),
        "cmd": xlat.xval(cmd, xlat.FCNTL_COMMANDS, "F_???"),
        "arg": call.args[2],
    }


@decoder("unshare")
def unshare(call: Call) -> dict[str, Any]:
    return {"flags": xlat.flags(call.args[0] & 0xFFFFFFFFFFFFFFFF, xlat.CLONE_FLAGS, "CLONE_???")}


@decoder("prctl")
def prctl(call: Call) -> dict[str, Any]:
    return {"option": signed32(call.args[0]), **{f"arg{i}": call.args[i - 1] for i in range(2, 6)}}


@decoder("seccomp")
def seccomp(call: Call) -> dict[str, Any]:
    return {"operation": call.args[0] & 0xFFFFFFFF, "flags": call.args[1] & 0xFFFFFFFF, "args": pointer(call.args[2])}


@decoder("close_range")
def close_range(call: Call) -> dict[str, Any]:
    return {
        "first": call.args[0] & 0xFFFFFFFF,
        "last": call.args[1] & 0xFFFFFFFF,
        "flags": xlat.flags(call.args[2] & 0xFFFFFFFF, xlat.CLOSE_RANGE_FLAGS, "CLOSE_RANGE_???"),
    }
