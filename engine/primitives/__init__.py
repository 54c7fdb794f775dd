"""Check primitives beyond the core ones in engine/checks.py, imported on first use."""
