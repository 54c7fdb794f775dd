"""The org-wide scan: many repositories, one stored history, one report (DESIGN.md)."""
