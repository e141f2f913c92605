"""Tracing a program: sctrace's own ptrace tracer, or strace read line by line."""
