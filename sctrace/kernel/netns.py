"""Network namespaces: each compared program gets its own, holding only loopback.

Fixed ports (the seed server binds 1234 without SO_REUSEADDR) then never meet
a TIME_WAIT left by the previous run, another program on the machine, or a
parallel test.  The tracer's child calls ``enter_new()`` before exec; sctrace's
peer creates its sockets inside the program's namespace with ``inside(pid)``.

Root makes the namespace directly (CLONE_NEWNET needs CAP_SYS_ADMIN).  An
ordinary user may too, where the kernel allows unprivileged user namespaces:
``prepare()`` moves the tracing process into a user namespace of its own.
There it holds every capability (CAP_SYS_ADMIN to make and enter network
namespaces, CAP_NET_ADMIN to bring loopback up, CAP_NET_RAW for --packets),
while its uid and gid stay what they are, mapped to themselves (not to root).
The program it starts is in that user namespace too, but an ordinary uid
loses all capabilities at exec: the tracer holds them, the program does not.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager

CLONE_NEWNET = 0x40000000  # include/uapi/linux/sched.h
CLONE_NEWUSER = 0x10000000
CAP_SYS_ADMIN = 21  # include/uapi/linux/capability.h
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1  # include/uapi/linux/sockios.h, if.h
_IFREQ = struct.Struct("16sH14x")

_libc = ctypes.CDLL(None, use_errno=True)

# prepare()'s answer, kept for the life of the process (a forked child inherits it): a process
# enters its own user namespace once, and a child must not try where its parent failed.
_prepared: int | None = None
# available() saw a namespace made here: prepare() may skip its trial in a throwaway child.
_seen_working = False


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = _IFREQ.unpack(fcntl.ioctl(s, SIOCGIFFLAGS, _IFREQ.pack(b"lo", 0)))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, _IFREQ.pack(b"lo", flags | IFF_UP))


def _errno() -> int:
    return ctypes.get_errno() or 1


def _new_netns() -> int:
    if _libc.unshare(CLONE_NEWNET) != 0:
        return _errno()
    try:
        _loopback_up()
    except OSError as exc:
        return exc.errno or 1
    return 0


def _may_admin() -> bool:
    """Whether this process holds CAP_SYS_ADMIN in its user namespace (root, or inside one it made)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> CAP_SYS_ADMIN & 1)
    except OSError:
        pass
    return False


def _own_user_namespace() -> int:
    """Move this process into a new user namespace, its ids mapped to themselves; 0 or an errno.

    It also gets a network namespace of its own with loopback up.  Once inside the user namespace,
    the process has no capability in the host's: it could enter a program's network namespace but
    never come back to the host's.  A home of its own to come back to keeps ``inside()`` symmetric.
    """
    uid, gid = os.geteuid(), os.getegid()  # read before: inside, they are unmapped until the maps are written
    if _libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        return _errno()
    try:
        # setgroups must be denied before an ordinary user may write gid_map (user_namespaces(7)).
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            fd = os.open(f"/proc/self/{name}", os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
        _loopback_up()
    except OSError as exc:
        return exc.errno or 1
    return 0


def _prepare(trial: bool) -> int:
    if os.geteuid() == 0 or _may_admin():
        return 0  # root makes plain network namespaces, as it always did
    if trial:
        # A user namespace can be made and still be refused its maps or capabilities (AppArmor's
        # restriction on Ubuntu): this process would be left in it with no uid.  Try in a child first.
        pid = os.fork()
        if pid == 0:
            os._exit(min(_own_user_namespace() or _new_netns(), 255))
        status = os.waitpid(pid, 0)[1]
        err = os.waitstatus_to_exitcode(status)
        if err != 0:
            return err if err > 0 else 1
    return _own_user_namespace()


def prepare() -> int:
    """Make this process able to make network namespaces and enter them; 0 or an errno.

    The process that traces a program calls it before starting the program: for root it does
    nothing; for an ordinary user it makes the user namespace described above, once.  The process
    stays there for the rest of its life, and must have one thread when it enters (else EINVAL).
    """
    global _prepared
    if _prepared is None:
        _prepared = _prepare(trial=not _seen_working)
    return _prepared


def enter_new() -> int:
    """Move the calling process into a new network namespace with loopback up; 0 or an errno."""
    err = prepare()
    return err if err else _new_netns()


def available() -> bool:
    """Whether this user may make a network namespace (tried in a throwaway child)."""
    global _prepared, _seen_working
    pid = os.fork()
    if pid == 0:
        if _prepared is None:
            _prepared = _prepare(trial=False)  # this child is the trial
        os._exit(0 if enter_new() == 0 else 1)
    works = os.waitpid(pid, 0)[1] == 0
    _seen_working = _seen_working or works
    return works


@contextmanager
def inside(pid: int) -> Iterator[None]:
    """Run the block in the network namespace of ``pid`` (sockets made there stay there)."""
    mine = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    theirs = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(theirs, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns into the program's network namespace")
        try:
            yield
        finally:
            _libc.setns(mine, CLONE_NEWNET)
    finally:
        os.close(mine)
        os.close(theirs)
