"""Decoders of the socket calls (strace's src/net.c, one function per call)."""

from __future__ import annotations

from typing import Any

from sctrace.backends.ptrace.decode.call import Call, buffer, decoder, entry_hook, pointer, read_u32, signed32
from sctrace.model import xlat
from sctrace.model.sockaddr import parse_sockaddr

MAX_SOCKADDR = 128  # sizeof(struct sockaddr_storage)
SOL_SOCKET, SO_ERROR = 1, 4  # asm-generic/socket.h


def sockaddr(call: Call, addr: int, addrlen: int) -> dict[str, Any] | str | None:
    """The address at ``addr``: strace reads at most sizeof(sockaddr_storage)."""
    if addr == 0:
        return None
    if addrlen <= 0:
        return hex(addr)
    data = call.mem.read(addr, min(addrlen, MAX_SOCKADDR))
    if data is None:
        return hex(addr)
    return parse_sockaddr(data, addrlen)


def value_result_len(call: Call, addr: int) -> dict[str, int] | int | str | None:
    """A socklen_t the kernel rewrites: {"in", "out"} (strace's ``[128 => 16]``)."""
    if addr == 0:
        return None
    before = call.entry
    after = read_u32(call, addr) if call.ret >= 0 else before
    if before is None or after is None:
        return hex(addr)
    return {"in": before, "out": after}


@entry_hook("accept", "accept4", "getsockname", "getpeername")
def _addrlen_in(call: Call) -> int | None:
    return read_u32(call, call.args[2])


@entry_hook("recvfrom")
def _recvfrom_addrlen_in(call: Call) -> int | None:
    return read_u32(call, call.args[5])


@entry_hook("getsockopt")
def _optlen_in(call: Call) -> int | None:
    return read_u32(call, call.args[4])


def _returned_address(call: Call, addr: int, len_addr: int) -> tuple[Any, Any]:
    length = value_result_len(call, len_addr)
    if addr == 0:
        return None, length
    if call.ret < 0 or not isinstance(length, dict):
        return hex(addr), length
    return sockaddr(call, addr, min(length["in"], length["out"])), length


@decoder("socket")
def socket(call: Call) -> dict[str, Any]:
    domain, type_, proto = (signed32(a) for a in call.args[:3])
    return {
        "domain": xlat.xval(domain, xlat.ADDRESS_FAMILIES, "AF_???"),
        "type": xlat.socket_type(type_),
        "protocol": xlat.protocol(domain, proto),
    }


@decoder("socketpair")
def socketpair(call: Call) -> dict[str, Any]:
    args = socket(call)
    sv_addr = call.args[3]
    sv: Any = pointer(sv_addr)
    if call.ret == 0:
        data = call.mem.read(sv_addr, 8)
        if data is not None and len(data) == 8:
            sv = [int.from_bytes(data[0:4], "little", signed=True), int.from_bytes(data[4:8], "little", signed=True)]
            call.new_fds.extend(sv)
    args["sv"] = sv
    return args


@decoder("bind", "connect")
def bind(call: Call) -> dict[str, Any]:
    fd, addr, addrlen = signed32(call.args[0]), call.args[1], signed32(call.args[2])
    return {"fd": fd, "addr": sockaddr(call, addr, addrlen), "addrlen": addrlen}


@decoder("listen")
def listen(call: Call) -> dict[str, Any]:
    return {"fd": signed32(call.args[0]), "backlog": signed32(call.args[1])}


@decoder("accept", "accept4")
def accept(call: Call) -> dict[str, Any]:
    addr, length = _returned_address(call, call.args[1], call.args[2])
    args: dict[str, Any] = {"fd": signed32(call.args[0]), "addr": addr, "addrlen": length}
    if call.name == "accept4":
        args["flags"] = xlat.flags(signed32(call.args[3]), xlat.SOCKET_TYPE_FLAGS, "SOCK_???")
    if call.ret >= 0:
        call.new_fds.append(call.ret)
    return args


@decoder("getsockname", "getpeername")
def getsockname(call: Call) -> dict[str, Any]:
    addr, length = _returned_address(call, call.args[1], call.args[2])
    return {"fd": signed32(call.args[0]), "addr": addr, "addrlen": length}


def _msg_flags(value: int) -> str:
    return xlat.flags(signed32(value), xlat.MSG_FLAGS, "MSG_???")


@decoder("sendto")
def sendto(call: Call) -> dict[str, Any]:
    fd, buf, size, flags, dest, addrlen = call.args
    shown = call.ret if 0 <= call.ret <= size else size
    return {
        "fd": signed32(fd),
        "buf": buffer(call, buf, shown),
        "len": size,
        "flags": _msg_flags(flags),
        "dest_addr": sockaddr(call, dest, signed32(addrlen)),
        "addrlen": signed32(addrlen),
    }


@decoder("recvfrom")
def recvfrom(call: Call) -> dict[str, Any]:
    fd, buf, size, flags, src, len_addr = call.args
    data = buffer(call, buf, call.ret) if call.ret >= 0 else pointer(buf)
    if src == 0:
        addr: Any = None
        length: Any = value_result_len(call, len_addr)
    else:
        addr, length = _returned_address(call, src, len_addr)
    return {
        "fd": signed32(fd),
        "buf": data,
        "len": size,
        "flags": _msg_flags(flags),
        "src_addr": addr,
        "addrlen": length,
    }


@decoder("shutdown")
def shutdown(call: Call) -> dict[str, Any]:
    how = signed32(call.args[1])
    return {"fd": signed32(call.args[0]), "how": xlat.xval(how, xlat.SHUTDOWN_HOW, "SHUT_???")}


def _optval(call: Call, addr: int, length: int) -> Any:
    """An option value: an int as ``[1]`` when it is 4 bytes, else its bytes."""
    if addr == 0:
        return None
    if length == 4:
        value = read_u32(call, addr)
        return hex(addr) if value is None else [signed32(value)]
    return buffer(call, addr, max(length, 0))


@decoder("setsockopt")
def setsockopt(call: Call) -> dict[str, Any]:
    fd, level, name, val, length = (call.args[0], signed32(call.args[1]), signed32(call.args[2]),
                                    call.args[3], signed32(call.args[4]))
    return {
        "fd": signed32(fd),
        "level": xlat.sockopt_level(level),
        "optname": xlat.sockopt_name(level, name, setting=True),
        "optval": _optval(call, val, length),
        "optlen": length,
    }


@decoder("getsockopt")
def getsockopt(call: Call) -> dict[str, Any]:
    fd, level, name, val, len_addr = (call.args[0], signed32(call.args[1]), signed32(call.args[2]),
                                      call.args[3], call.args[4])
    length = value_result_len(call, len_addr)
    out = length["out"] if isinstance(length, dict) else 0
    optval = _optval(call, val, out) if call.ret >= 0 else pointer(val)
    if (level, name) == (SOL_SOCKET, SO_ERROR) and isinstance(optval, list) and optval[0] > 0:
        optval = [xlat.errno_name(optval[0])]  # strace names the pending error
    return {
        "fd": signed32(fd),
        "level": xlat.sockopt_level(level),
        "optname": xlat.sockopt_name(level, name),
        "optval": optval,
        "optlen": length,
    }
