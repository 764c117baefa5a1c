"""Append-only, hash-chained log of every admin action, and the `Actor` type."""
