"""Shared pytest configuration and fixtures for the sctrace test suite."""

import os
import pwd

# Many tests count a traced program's own socket calls.  A Python or a shell started without HOME or SHELL
# looks up its user first, and glibc asks nscd for it over a UNIX socket: calls of the runtime, not of the
# program (a pyenv shim for python3 starts a dozen shells, each asking), which compare counts and leaves out
# of its rows (the name_service rule, tested with HOME and SHELL unset in test_compare.py) but which would
# change those counts.  So the programs the tests trace get a HOME and a SHELL, as in a login session.
_user = pwd.getpwuid(os.getuid())
os.environ.setdefault("HOME", _user.pw_dir)
os.environ.setdefault("SHELL", _user.pw_shell or "/bin/sh")
