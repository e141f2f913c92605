"""Call notation: a call written as strace writes it, ``[pid 42] connect(3<TCP:[1234]>, {...}, 16) = 0``.

The decoded arguments are JSON values (see backends/ptrace/decode/__init__.py);
this module turns them back into strace's notation, for the text renderer, the
reports and the comparison's steps alike.  Every line passes through
escape_for_terminal last, so nothing a traced program sent (a UNIX socket path,
an exec'd file name) can reach the terminal as a control sequence.
"""

from __future__ import annotations

from typing import Any

from sctrace.model import xlat
from sctrace.model.escape import escape_for_terminal
from sctrace.model.sockaddr import format_sockaddr
from sctrace.model.trace import STATE_EVENT, Event

FD_KEYS = frozenset({"fd", "oldfd"})
_ERRNO_NUMBERS = {name: number for number, name in xlat.ERRNO_NAMES.items()}


def format_event(ev: Event) -> str:
    if ev.type == "packet":  # --packets: tcpdump's line for it, among the calls it happened during
        return escape_for_terminal(f"  > {ev.info.get('summary')}")
    return escape_for_terminal(f"[pid {ev.pid}] {_body(ev)}")


def _body(ev: Event) -> str:
    info = ev.info
    if ev.type == "syscall":
        text = f"{ev.name}({format_args(ev)}) = {format_result(ev)}"
        state = info.get("tcp_state")
        return f"{text} [{state}]" if state else text  # --states: the kernel's TCP state after the call
    if ev.type == "exit":
        return f"+++ exited with {info.get('code')} +++"
    if ev.type == "killed":
        text = f"+++ killed by {info.get('signal')}"
        if info.get("core"):
            text += " (core dumped)"
        if info.get("by") == "sctrace":
            text += f" (by sctrace: {info.get('reason')})"
        return text + " +++"
    if ev.type == "signal":
        return f"--- {info.get('signal')} ---"
    if ev.type == "fork":
        what = "thread" if info.get("thread") else "process"
        return f"--- {info.get('call')}: new {what} {info.get('child')} ---"
    if ev.type == "exec":
        return f"--- exec {info.get('filename')} ---"
    if ev.type == STATE_EVENT:  # --states: a socket the program closed changed state later
        return f"--- {info.get('endpoint')} [{info.get('tcp_state')}] ---"
    return f"--- {ev.type} ---"


def format_result(ev: Event) -> str:
    if ev.ret is None:
        if ev.errno:
            return f"? {ev.errno} ({xlat.errno_message(_ERRNO_NUMBERS.get(ev.errno, 0))})"
        return "?"
    if ev.errno:
        return f"{ev.ret} {ev.errno} ({xlat.errno_message(_ERRNO_NUMBERS.get(ev.errno, 0))})"
    if ev.ret_endpoint:
        return f"{ev.ret}<{ev.ret_endpoint}>"
    return str(ev.ret)


def format_args(ev: Event) -> str:
    args = ev.args
    fds: dict[str, str] = ev.info.get("fd_endpoints") or {}
    parts = []
    for key, value in args.items():
        if key in FD_KEYS and isinstance(value, int):
            parts.append(_fd(value, ev.endpoint if value == ev.fd else fds.get(str(value))))
        elif key == "sv" and isinstance(value, list):
            parts.append("[" + ", ".join(_fd(v, fds.get(str(v))) for v in value) + "]")
        elif isinstance(value, dict) and "family" in value:
            parts.append(format_sockaddr(value, _addrlen(args)))
        else:
            parts.append(format_value(value))
    return ", ".join(parts)


def _fd(fd: int, endpoint: str | None) -> str:
    return f"{fd}<{endpoint}>" if endpoint else str(fd)


def _addrlen(args: dict[str, Any]) -> int:
    value = args.get("addrlen", args.get("namelen", 0))
    if isinstance(value, dict):
        return int(value.get("out", 0))
    return value if isinstance(value, int) else 0


def format_value(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_list_item(v) for v in value) + "]"
    if isinstance(value, dict):
        if "text" in value:
            return f'"{value["text"]}"' + ("..." if value.get("truncated") else "")
        if "in" in value and "out" in value:
            return f"[{value['in']}]" if value["in"] == value["out"] else f"[{value['in']} => {value['out']}]"
        if "family" in value:
            return format_sockaddr(value, 0)
        if "iov" in value:
            return _msghdr(value)
        if value.keys() == {"namelen"}:  # a receive that failed
            return f"{{msg_namelen={value['namelen']}}}"
        if "raw" in value:
            return str(value["raw"])
        return "{" + ", ".join(f"{k}={format_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def _list_item(item: Any) -> str:
    if isinstance(item, dict) and "base" in item:
        return f"{{iov_base={format_value(item['base'])}, iov_len={item['len']}}}"
    if isinstance(item, dict) and "msg_hdr" in item:
        return f"{{msg_hdr={format_value(item['msg_hdr'])}, msg_len={item['msg_len']}}}"
    if isinstance(item, dict) and "level" in item and "type" in item:
        data = item.get("fds", item.get("data"))
        return (
            f"{{cmsg_len={item.get('len')}, cmsg_level={item['level']}, cmsg_type={item['type']}, "
            f"cmsg_data={format_value(data)}}}"
        )
    return format_value(item)


def _msghdr(msg: dict[str, Any]) -> str:
    namelen = msg.get("namelen")
    out_len = namelen.get("out", 0) if isinstance(namelen, dict) else (namelen or 0)
    name = msg.get("name")
    name_text = format_sockaddr(name, out_len) if isinstance(name, dict) else format_value(name)
    namelen_text = (
        f"{namelen['in']} => {namelen['out']}" if isinstance(namelen, dict) and namelen["in"] != namelen["out"]
        else str(namelen["in"] if isinstance(namelen, dict) else namelen)
    )
    fields = [f"msg_name={name_text}", f"msg_namelen={namelen_text}",
              f"msg_iov={format_value(msg.get('iov'))}", f"msg_iovlen={msg.get('iovlen')}"]
    clen = msg.get("controllen")
    if clen:
        fields.append(f"msg_control={format_value(msg.get('control'))}")
    fields.append(f"msg_controllen={clen}")
    fields.append(f"msg_flags={msg.get('flags')}")
    return "{" + ", ".join(fields) + "}"
