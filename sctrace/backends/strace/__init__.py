"""The strace backend: strace run and read, its lines made into the ptrace backend's events."""
