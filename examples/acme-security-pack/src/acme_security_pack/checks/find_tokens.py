"""ACME's token scanner: an opsgrade `command` check (the JSON verdict on stdout).

Runs in the repository root; scans the service's folder (OPSGRADE_SERVICE_ROOT) for
GitHub tokens and prints `{"status": "pass"|"fail", "message": ..., "locations": [...]}`.
Never prints a token: only where it is.
"""

from __future__ import annotations

import json
import os
import re
import sys

TOKEN = re.compile(rb"\b(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9_]{82}\b")
SKIPPED = {".git", "node_modules", ".venv", "venv", "__pycache__"}
MAX_FILES = 5000
MAX_BYTES = 1024 * 1024


def scan(root: str) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    seen = 0
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED)
        for name in sorted(names):
            seen += 1
            if seen > MAX_FILES:
                return found
            path = os.path.join(folder, name)
            if os.path.islink(path) or os.path.getsize(path) > MAX_BYTES:
                continue
            with open(path, "rb") as fh:
                data = fh.read()
            match = TOKEN.search(data)
            if match:
                line = data.count(b"\n", 0, match.start()) + 1
                rel = os.path.relpath(path, ".").replace(os.sep, "/")
                found.append({"path": rel, "line": line})
    return found


def main() -> int:
    found = scan(os.environ.get("OPSGRADE_SERVICE_ROOT", "."))
    if found:
        verdict = {
            "status": "fail",
            "message": f"{len(found)} file(s) hold a GitHub token",
            "locations": found[:50],
        }
    else:
        verdict = {"status": "pass", "message": "no GitHub token found"}
    json.dump(verdict, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
