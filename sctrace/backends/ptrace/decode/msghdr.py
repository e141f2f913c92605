"""sendmsg/recvmsg and their vector forms (strace's msghdr.c).

struct msghdr on x86_64 (include/linux/socket.h): name pointer, namelen (u32,
padded), iov pointer, iovlen, control pointer, controllen, flags: 56 bytes.
struct mmsghdr adds msg_len (u32, padded): 64 bytes.  Control messages
(cmsghdr: len, level, type, data aligned to 8) are decoded when they carry
descriptors (SCM_RIGHTS), which also enter the descriptor table.
"""

from __future__ import annotations

import struct
from typing import Any

from sctrace.backends.ptrace.decode.call import Call, decoder, entry_hook, pointer, signed32
from sctrace.backends.ptrace.decode.fdcalls import iovec
from sctrace.backends.ptrace.decode.net import sockaddr
from sctrace.model import xlat

MSGHDR = struct.Struct("<QI4xQQQQi4x")
MMSGHDR_SIZE = 64
CMSGHDR = struct.Struct("<Qii")
SCM_RIGHTS = 1
SOL_SOCKET = 1
MAX_MMSG_SHOWN = 64


def _read_msghdr(call: Call, addr: int) -> tuple[int, ...] | None:
    if addr == 0:
        return None
    raw = call.mem.read(addr, MSGHDR.size)
    if raw is None or len(raw) < MSGHDR.size:
        return None
    return MSGHDR.unpack(raw)


def _control(call: Call, addr: int, length: int, receiving: bool) -> list[dict[str, Any]] | str | None:
    if addr == 0 or length <= 0:
        return None
    data = call.mem.read(addr, min(length, 4096))
    if data is None:
        return hex(addr)
    out: list[dict[str, Any]] = []
    pos = 0
    while pos + CMSGHDR.size <= len(data):
        cmsg_len, level, type_ = CMSGHDR.unpack_from(data, pos)
        if cmsg_len < CMSGHDR.size or pos + cmsg_len > len(data):
            break
        payload = data[pos + CMSGHDR.size : pos + cmsg_len]
        item: dict[str, Any] = {
            "len": cmsg_len,
            "level": xlat.sockopt_level(level),
            "type": xlat.xval(type_, xlat.SCM_TYPES, "SCM_???") if level == SOL_SOCKET else type_,
        }
        if level == SOL_SOCKET and type_ == SCM_RIGHTS:
            fds = [int.from_bytes(payload[i : i + 4], "little", signed=True) for i in range(0, len(payload) - 3, 4)]
            item["fds"] = fds
            if receiving:
                call.new_fds.extend(fds)
        else:
            item["data"] = payload.hex()
        out.append(item)
        pos += (cmsg_len + 7) & ~7
    return out


def msghdr(call: Call, addr: int, before: tuple[int, ...] | None, transferred: int,
           receiving: bool) -> dict[str, Any] | str | None:
    """One msghdr; for a receive, ``before`` holds it as it was at entry."""
    if addr == 0:
        return None
    now = _read_msghdr(call, addr)
    if now is None:
        return hex(addr)
    name, namelen, iov, iovlen, control, controllen, flags = now
    failed = call.ret < 0
    if receiving and failed:
        # Nothing was received: strace shows only the room offered for the address.
        return {"namelen": before[1] if before is not None else namelen}
    result: dict[str, Any] = {}
    if receiving and before is not None:
        namelen_in = before[1]
        if failed or namelen == 0:
            result["name"] = pointer(name)
        else:
            result["name"] = sockaddr(call, name, min(namelen, namelen_in))
        result["namelen"] = {"in": namelen_in, "out": namelen if not failed else namelen_in}
    else:
        result["name"] = sockaddr(call, name, namelen) if name else None
        result["namelen"] = namelen
    result["iov"] = iovec(call, iov, iovlen, transferred)
    result["iovlen"] = iovlen
    if receiving and failed:
        result["control"] = pointer(control)
    else:
        result["control"] = _control(call, control, controllen, receiving)
    result["controllen"] = controllen  # for a receive, what the kernel filled (strace shows only that)
    result["flags"] = xlat.flags(flags, xlat.MSG_FLAGS, "MSG_???")
    return result


@entry_hook("recvmsg")
def _recvmsg_entry(call: Call) -> tuple[int, ...] | None:
    return _read_msghdr(call, call.args[1])


@decoder("sendmsg", "recvmsg")
def sendmsg(call: Call) -> dict[str, Any]:
    receiving = call.name == "recvmsg"
    transferred = call.ret
    if transferred < 0 and not receiving:
        transferred = 1 << 62
    return {
        "fd": signed32(call.args[0]),
        "msg": msghdr(call, call.args[1], call.entry, transferred, receiving),
        "flags": xlat.flags(signed32(call.args[2]), xlat.MSG_FLAGS, "MSG_???"),
    }


@entry_hook("recvmmsg")
def _recvmmsg_entry(call: Call) -> list[tuple[int, ...] | None]:
    count = min(call.args[2] & 0xFFFFFFFF, MAX_MMSG_SHOWN)
    return [_read_msghdr(call, call.args[1] + i * MMSGHDR_SIZE) for i in range(count)]


@decoder("sendmmsg", "recvmmsg")
def sendmmsg(call: Call) -> dict[str, Any]:
    receiving = call.name == "recvmmsg"
    vec, vlen = call.args[1], call.args[2] & 0xFFFFFFFF
    shown = min(call.ret if call.ret >= 0 else vlen, MAX_MMSG_SHOWN)
    msgs: list[Any] = []
    for i in range(shown):
        at = vec + i * MMSGHDR_SIZE
        raw = call.mem.read(at + MSGHDR.size, 4)
        msg_len = int.from_bytes(raw, "little") if raw and len(raw) == 4 else 0
        before = call.entry[i] if receiving and isinstance(call.entry, list) and i < len(call.entry) else None
        transferred = msg_len if call.ret >= 0 else (-1 if receiving else 1 << 62)
        msgs.append({"msg_hdr": msghdr(call, at, before, transferred, receiving), "msg_len": msg_len})
    args: dict[str, Any] = {
        "fd": signed32(call.args[0]),
        "msgvec": msgs if vec else None,
        "vlen": vlen,
        "flags": xlat.flags(signed32(call.args[3]), xlat.MSG_FLAGS, "MSG_???"),
    }
    if receiving:
        args["timeout"] = pointer(call.args[4])
    return args
