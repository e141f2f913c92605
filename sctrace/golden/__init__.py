"""Golden traces: record and check, and the pytest plugin."""
