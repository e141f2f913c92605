"""The ptrace backend: the tracer, python-ptrace behind one adapter, seccomp, the socket table, decoders."""
