"""From a program's file to a command line: the language runners and compiling C and Go."""
