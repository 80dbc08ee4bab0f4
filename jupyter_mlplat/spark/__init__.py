"""Spark sessions: where ``spark`` comes from (backends), the lazy handle, per-cell progress."""
