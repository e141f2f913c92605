"""Comparing two traces: normalize (normalize.py, rules.py), align (align.py), then render."""
