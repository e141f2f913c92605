"""How a step is shown: the call in short strace-like notation, built from normalized values.

``connect(C1, {AF_INET, 127.0.0.1:PORT1}, 16) = 0``: roles for descriptors,
port names for ports, a msghdr without its empty fields.  Every text passes
through escape_for_terminal last, so nothing the traced program chose (a
socket path, a payload) reaches the terminal as a control sequence.
"""

from __future__ import annotations

from typing import Any

from sctrace.compare.endpoints import INET_FAMILIES
from sctrace.model.escape import escape_for_terminal

_EMPTY: tuple[Any, ...] = (None, 0, {"in": 0, "out": 0}, [])  # msghdr fields not worth showing


def _sockaddr_text(d: dict[str, Any]) -> str:
    family, path = d.get("family"), d.get("path")
    if family in INET_FAMILIES and "address" in d:
        host = d["address"] if family == "AF_INET" else f"[{d['address']}]"
        if "flowinfo" in d or "scope_id" in d:
            return f"{{{family}, {host}:{d.get('port')}" + "".join(
                f", {k}={d[k]}" for k in ("flowinfo", "scope_id") if d.get(k)) + "}"
        return f"{{{family}, {host}:{d.get('port')}}}"
    if family == "AF_UNIX" and path is not None:
        return f'{{AF_UNIX, @"{str(path)[1:]}"}}' if d.get("abstract") else f'{{AF_UNIX, "{path}"}}'
    return "{" + ", ".join([str(family), *(f"{k}={show(v)}" for k, v in d.items() if k != "family")]) + "}"


def show(value: Any) -> str:
    """A normalized argument value in short strace-like notation (a msghdr without its empty fields)."""
    if type(value) is str:  # the common cases first: a flag, a role, a number
        return value
    if type(value) is int:
        return str(value)
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if not isinstance(value, dict):
        return str(value)
    if "text" in value:
        return f'"{value["text"]}"' + ("..." if value.get("truncated") else "")
    if "family" in value:
        return _sockaddr_text(value)
    if len(value) == 2 and "in" in value and "out" in value:
        return f"[{value['in']}]" if value["in"] == value["out"] else f"[{value['in']} => {value['out']}]"
    if "iov" in value:
        shown = {"name": value.get("name"), **{k: value.get(k) for k in ("namelen", "iov", "control")
                                               if value.get(k) not in _EMPTY}, "flags": value.get("flags")}
        return "{" + ", ".join(f"msg_{k}={show(v)}" for k, v in shown.items()) + "}"
    if "msg_hdr" in value:
        return f"{{{show(value['msg_hdr'])}, {value.get('msg_len')}}}"
    if len(value) == 2 and "base" in value and "len" in value:
        return f"{{{show(value['base'])}, {value['len']}}}"
    if "level" in value and "type" in value:
        return f"{{{value['level']}, {value['type']}, {show(value.get('fds', value.get('data')))}}}"
    return "{" + ", ".join(f"{k}={show(v)}" for k, v in value.items()) + "}"


def call_text(name: str, args: dict[str, Any], ret: Any, errno: str | None,
              endpoint: str | None = None, ret_endpoint: str | None = None) -> str:
    """``name(args) = result``, with the descriptor's endpoint after fd when one is given."""
    if endpoint:
        shown = ", ".join([f"{show(v)}<{endpoint}>" if k == "fd" else show(v) for k, v in args.items()])
    else:  # show, inline for what most arguments are (this runs for every call of a trace)
        shown = ", ".join([v if type(v) is str else str(v) if type(v) is int else "NULL" if v is None else show(v)
                           for v in args.values()])
    if errno:
        result = f"{'?' if ret is None else ret} {errno}"
    elif ret is None:
        result = "?"
    else:
        result = f"{ret}<{ret_endpoint}>" if ret_endpoint else str(ret)
    return escape_for_terminal(f"{name}({shown}) = {result}")
