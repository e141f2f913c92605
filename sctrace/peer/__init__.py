"""Giving a traced program its peer, and running the sides of a comparison."""
