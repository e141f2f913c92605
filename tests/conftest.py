"""Shared pytest configuration and fixtures for the sctrace test suite."""

import os
import pwd

# Many tests count a traced program's own socket calls.  Python started without HOME looks up its user
# first, and glibc asks nscd for it over a UNIX socket: calls of the runtime, not of the program, which
# compare tolerates (the name_service rule, tested with HOME unset in test_compare.py) but which would
# change those counts.  So the programs the tests trace get a HOME, as they would in a login session.
if "HOME" not in os.environ:
    os.environ["HOME"] = pwd.getpwuid(os.getuid()).pw_dir
