"""Decoders: from a stopped call's registers and memory to named, JSON-ready arguments.

One small function per system call, registered by name in DECODERS; each
returns the arguments in the kernel's order, named as strace prints them.  Some
calls pass a value-result argument (an address length that the kernel
rewrites): their ENTRY hook reads the "in" half while the call has not run yet.

Value conventions (docs/trace-format.md): descriptors and numbers are ints,
symbolic constants strings ("AF_INET", "SOCK_STREAM|SOCK_CLOEXEC"), NULL is
None, an unreadable pointer its hex text, a buffer {"text", "len"} (escaped text
of at most the string limit, true length), a sockaddr a dict with "family".
"""

from __future__ import annotations

from typing import Any

from sctrace.backends.ptrace.decode.call import DECODERS, ENTRY, Call, EntryHook, Memory

__all__ = ["Call", "Memory", "decode", "entry_hook_for", "generic"]

_loaded = False


def _load_families() -> None:
    """Import the decoder modules on first use: a run with no socket call never pays for them."""
    global _loaded
    if not _loaded:
        from sctrace.backends.ptrace.decode import fdcalls, msghdr, net  # noqa: F401

        _loaded = True


def entry_hook_for(name: str) -> EntryHook | None:
    if not _loaded:
        _load_families()
    return ENTRY.get(name)


def decode(call: Call) -> dict[str, Any]:
    if not _loaded:
        _load_families()
    fn = DECODERS.get(call.name)
    if fn is None:
        return generic(call)
    return fn(call)


def generic(call: Call) -> dict[str, Any]:
    """A call without a decoder (--all): its arguments as numbers, named where python-ptrace knows."""
    from sctrace.backends.ptrace.adapter import syscall_arg_names

    names = syscall_arg_names(call.name) or tuple(f"arg{i}" for i in range(6))
    return {n: hex(a) if a > 0xFFFF else a for n, a in zip(names, call.args, strict=False)}
