"""Shared pytest configuration and fixtures for the sctrace test suite."""
