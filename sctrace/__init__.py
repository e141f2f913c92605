"""sctrace: see what the kernel is asked to do when programs talk over sockets."""

__version__ = "0.1.0"
