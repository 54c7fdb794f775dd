"""Extractors: one module per input kind, each a facts provider (see engine/facts.py)."""
