"""Cold-process timing of `opsgrade scan`: median of several runs, printed as JSON.

    python bench/scan_bench.py [--runs 9] [--files 2000]

Targets: the `payments` fixture (a typical single-service repository) and a generated
repository of about --files files (services with descriptors, READMEs, docs, source,
CI config). Each run is a fresh `opsgrade` process, as a pre-commit hook or CI job
starts it. Budgets: fixture <= 150 ms and 2,000 files <= 400 ms (issue #2); a repository
with 30 Dockerfiles, 20 workflows and 20 manifests <= 300 ms (issue #3).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import time_command

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "repos" / "payments" / "repo"


def generate_repo(root: Path, files: int) -> Path:
    """About `files` files in 20 services, deterministic content."""
    root.mkdir(parents=True)
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "CODEOWNERS").write_text("* @acme/platform\n")
    (root / ".github" / "workflows" / "ci.yml").write_text(
        "on: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n      - run: make test\n"
    )
    services = 20
    per_service = max((files - 3) // services, 6)
    for s in range(services):
        svc = root / "services" / f"svc-{s:02d}"
        (svc / "src").mkdir(parents=True)
        (svc / "docs").mkdir()
        (svc / "opsgrade.yml").write_text(
            f"name: svc-{s:02d}\nowner: team-{s % 5}\ndescription: Service {s}\n"
            f"tier: {1 + s % 3}\nlifecycle: production\n"
            "tools:\n  - {category: runbook, url: 'https://wiki/x'}\n"
            "  - {category: logs, url: 'https://logs/x'}\n"
        )
        (svc / "README.md").write_text(f"# svc-{s}\n\n## Getting started\n\nmake run\n")
        (svc / "docs" / "architecture.md").write_text("# Architecture\n" + "text\n" * 50)
        for f in range(per_service - 4):
            (svc / "src" / f"module_{f:04d}.py").write_text(
                f"def handler_{f}(request):\n    return {{'ok': True, 'n': {f}}}\n" * 5
            )
    return root


WORKFLOW = """name: ci-{n}
on:
  pull_request:
  push:
    branches: [main]
permissions:
  contents: read
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683
        with:
          persist-credentials: false
      - uses: actions/setup-node@v4
        with:
          node-version: 20
      - run: npm ci && npm test
      - run: echo "${{{{ github.event.pull_request.title }}}}"
"""

DOCKERFILE = """ARG PY=3.12
FROM python:${{PY}}-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc=4:12.2.0-3 \\
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
FROM python:${{PY}}-slim
COPY --from=build /usr/local /usr/local
WORKDIR /app
COPY . .
USER {user}
EXPOSE 8080
CMD ["python", "-m", "svc{n}"]
"""

MANIFESTS = {
    "python": (
        "pyproject.toml",
        '[project]\nname = "svc{n}"\nrequires-python = ">=3.11"\n'
        'dependencies = ["fastapi>=0.110", "structlog>=24", "httpx"]\n',
    ),
    "node": (
        "package.json",
        '{{"name": "svc{n}", "engines": {{"node": ">=20"}}, '
        '"dependencies": {{"express": "^4.19.2", "pino": "^9.0.0"}}, '
        '"devDependencies": {{"jest": "^29.7.0"}}}}\n',
    ),
    "go": (
        "go.mod",
        "module example.com/svc{n}\n\ngo 1.22\n\nrequire (\n"
        "\tgithub.com/go-chi/chi/v5 v5.0.12\n\tgo.uber.org/zap v1.27.0\n)\n",
    ),
    "ruby": (
        "Gemfile",
        "source 'https://rubygems.org'\nruby '3.3.0'\ngem 'rails', '~> 7.1'\ngem 'lograge'\n",
    ),
}


def generate_introspection_repo(root: Path) -> Path:
    """30 Dockerfiles, 20 workflows, 20 manifests: issue #3's introspection budget."""
    root.mkdir(parents=True)
    workflows = root / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (root / ".github" / "CODEOWNERS").write_text("* @acme/platform\n")
    for n in range(20):
        (workflows / f"ci-{n:02d}.yml").write_text(WORKFLOW.format(n=n))
    kinds = list(MANIFESTS)
    for n in range(30):
        svc = root / "services" / f"svc-{n:02d}"
        svc.mkdir(parents=True)
        (svc / "opsgrade.yml").write_text(
            f"name: svc-{n:02d}\nowner: team-{n % 4}\ndescription: Service {n}\n"
            f"tier: {1 + n % 3}\nlifecycle: production\n"
        )
        (svc / "README.md").write_text(f"# svc-{n}\n\n## Usage\n\nmake run\n")
        (svc / "Dockerfile").write_text(DOCKERFILE.format(n=n, user="root" if n % 5 else "app"))
        if n < 20:
            name, text = MANIFESTS[kinds[n % len(kinds)]]
            (svc / name).write_text(text.format(n=n))
    return root


def time_scan(target: Path, runs: int) -> dict[str, float]:
    return time_command(["scan", str(target)], runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--files", type=int, default=2000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="opsgrade-bench-"))
    try:
        big = generate_repo(tmp / "generated", args.files)
        count = sum(1 for p in big.rglob("*") if p.is_file())
        intro = generate_introspection_repo(tmp / "introspection")
        report = {
            "python": platform.python_version(),
            "runs": args.runs,
            "fixture_payments": time_scan(FIXTURE, args.runs),
            "generated_repo": {"files": count, **time_scan(big, args.runs)},
            "introspection_repo": {
                "dockerfiles": 30,
                "workflows": 20,
                "manifests": 20,
                **time_scan(intro, args.runs),
            },
            "budgets_ms": {
                "fixture_payments": 150,
                "generated_repo": 400,
                "introspection_repo": 300,
            },
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
