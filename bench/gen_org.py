"""A folder of N generated repositories for the org-scan bench: realistic and deterministic.

    python bench/gen_org.py 1000            # prints the folder (cached under /tmp)

Each repository has 1-4 services, each declared by one of the five descriptor formats
(opsgrade.yml, catalog-info.yaml, opslevel.yml, cortex.yaml, service.datadog.yaml)
with owners from a dozen teams, tiers, lifecycles and tool links; Dockerfiles good and
bad; GitHub workflows; a dependency manifest per service (Python, Node, Go, Ruby);
README, docs and source files; CODEOWNERS; and in some repositories broken files (YAML
that does not parse, invalid JSON, a binary blob, an oversized log). Repository i's
content depends only on i and the generator version, so a folder is generated once
and reused by later runs (a marker file says it is complete).
"""

from __future__ import annotations

import random
import shutil
import sys
from pathlib import Path

VERSION = 2
CACHE = Path("/tmp/opsgrade-bench-org")
TEAMS = [f"team-{name}" for name in "abcdefghijkl"]
LANGUAGES = ("python", "node", "go", "ruby")
LIFECYCLES = ("production", "production", "beta", "experimental", "deprecated")

DOCKERFILES = (
    "FROM python:3.12-slim@sha256:{digest}\nWORKDIR /app\nCOPY . .\n"
    "RUN pip install --no-cache-dir -r requirements.txt\nUSER app\n"
    'HEALTHCHECK CMD ["curl", "-f", "http://localhost:8080/health"]\n'
    'CMD ["python", "-m", "{name}"]\n',
    "FROM node:latest\nCOPY . .\nRUN npm install\nEXPOSE 3000\nCMD npm start\n",
    "FROM golang:1.22 AS build\nWORKDIR /src\nCOPY . .\nRUN go build -o /out/app ./...\n"
    "FROM gcr.io/distroless/static\nCOPY --from=build /out/app /app\nUSER 65532\n"
    'ENTRYPOINT ["/app"]\n',
    "FROM ruby:3.3\nRUN apt-get update && apt-get install -y build-essential\n"
    "COPY . /app\nRUN bundle install\nCMD rails server\n",
)

WORKFLOWS = (
    "name: ci\non:\n  push:\n    branches: [main]\n  pull_request:\npermissions:\n"
    "  contents: read\njobs:\n  test:\n    runs-on: ubuntu-latest\n    timeout-minutes: 15\n"
    "    steps:\n      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683\n"
    "        with:\n          persist-credentials: false\n      - run: make test\n",
    "name: deploy\non: [push]\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n"
    "      - uses: actions/checkout@v4\n"
    '      - run: echo "${{ github.event.head_commit.message }}"\n'
    "      - run: ./deploy.sh\n        env:\n          TOKEN: ${{ secrets.DEPLOY_TOKEN }}\n",
    "name: release\non:\n  pull_request_target:\njobs:\n  build:\n    runs-on: ubuntu-latest\n"
    "    steps:\n      - uses: actions/checkout@v4\n        with:\n"
    "          ref: ${{ github.event.pull_request.head.sha }}\n"
    "      - run: npm ci && npm run build\n",
)

MANIFESTS = {
    "python": (
        "pyproject.toml",
        '[project]\nname = "{name}"\nrequires-python = ">={py}"\n'
        'dependencies = ["fastapi>=0.110", "structlog>=24", "opentelemetry-sdk", "httpx"]\n',
    ),
    "node": (
        "package.json",
        '{{"name": "{name}", "engines": {{"node": ">={node}"}}, '
        '"dependencies": {{"express": "^4.19.2", "pino": "^9.0.0"}}, '
        '"devDependencies": {{"jest": "^29.7.0"}}}}\n',
    ),
    "go": (
        "go.mod",
        "module example.com/{name}\n\ngo 1.{go}\n\nrequire (\n"
        "\tgithub.com/go-chi/chi/v5 v5.0.12\n\tgo.uber.org/zap v1.27.0\n)\n",
    ),
    "ruby": (
        "Gemfile",
        "source 'https://rubygems.org'\nruby '3.{rb}.0'\ngem 'rails', '~> 7.1'\ngem 'lograge'\n",
    ),
}

SOURCES = {
    "python": (
        "main.py",
        "import logging\n\nlog = logging.getLogger(__name__)\n\n\n"
        "def handler(request):\n    log.info('request', extra={{'n': {n}}})\n"
        "    return {{'ok': True}}\n",
    ),
    "node": (
        "index.js",
        "const pino = require('pino')();\nmodule.exports = (req, res) => {{\n"
        "  pino.info({{ n: {n} }});\n  res.end('ok');\n}};\n",
    ),
    "go": (
        "main.go",
        'package main\n\nimport "go.uber.org/zap"\n\nfunc main() {{\n'
        '\tlogger, _ := zap.NewProduction()\n\tlogger.Info("start", zap.Int("n", {n}))\n}}\n',
    ),
    "ruby": ("app.rb", "class App\n  def call(env)\n    [200, {{}}, ['ok {n}']]\n  end\nend\n"),
}


def _links(rng: random.Random, name: str) -> list[tuple[str, str]]:
    kinds = ["runbook", "logs", "dashboard", "docs", "oncall"]
    chosen = [k for k in kinds if rng.random() < 0.6]
    return [(k, f"https://{k}.example.com/{name}") for k in chosen]


def _descriptor(rng: random.Random, fmt: int, svc: dict[str, str]) -> tuple[str, str]:
    name, owner, tier, life, lang = (svc[k] for k in ("name", "owner", "tier", "life", "lang"))
    links = _links(rng, name)
    if fmt == 0:
        tools = "".join(f'  - {{category: {k}, url: "{u}"}}\n' for k, u in links)
        owner_line = f"owner: {owner}\n" if owner else ""
        text = (
            f"apiVersion: opsgrade/v1\nkind: Service\nname: {name}\n{owner_line}"
            f"description: The {name} service.\ntier: {tier}\nlifecycle: {life}\n"
            f"language: {lang}\ntags: [{lang}, generated]\n"
        )
        return "opsgrade.yml", text + (f"tools:\n{tools}" if tools else "")
    if fmt == 1:
        items = "".join(f"    - url: {u}\n      title: {k}\n      type: {k}\n" for k, u in links)
        return "catalog-info.yaml", (
            f"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n"
            f"  description: The {name} service.\n  annotations:\n"
            f'    opsgrade.dev/tier: "{tier}"\n  tags: [{lang}]\n'
            + (f"  links:\n{items}" if items else "")
            + f"spec:\n  type: service\n  lifecycle: {life}\n"
            + (f"  owner: group:default/{owner}\n" if owner else "")
        )
    if fmt == 2:
        return "opslevel.yml", (
            f"version: 1\nservice:\n  name: {name}\n  description: The {name} service.\n"
            + (f"  owner: {owner}\n" if owner else "")
            + f"  tier: tier_{tier}\n  lifecycle: {life}\n  language: {lang}\n"
        )
    if fmt == 3:
        items = "".join(f"    - name: {k}\n      type: {k}\n      url: {u}\n" for k, u in links)
        owners = (
            f"  x-cortex-owners:\n    - type: group\n      name: {owner}\n      provider: CORTEX\n"
            if owner
            else ""
        )
        return "cortex.yaml", (
            f"openapi: 3.0.1\ninfo:\n  title: {name}\n  x-cortex-tag: {name}\n"
            f"  x-cortex-type: service\n{owners}"
            + (f"  x-cortex-link:\n{items}" if items else "")
            + f"  x-cortex-custom-metadata:\n    tier: {tier}\n    lifecycle: {life}\n"
        )
    items = "".join(f"  - name: {k}\n    type: {k}\n    url: {u}\n" for k, u in links)
    return "service.datadog.yaml", (
        f"schema-version: v2.1\ndd-service: {name}\ndescription: The {name} service.\n"
        + (f"team: {owner}\n" if owner else "")
        + f'tier: "{tier}"\nlifecycle: {life}\nlanguages: [{lang}]\n'
        + (f"links:\n{items}" if items else "")
    )


def write_repo(root: Path, index: int) -> None:
    rng = random.Random(index * 7919 + VERSION)
    name = f"repo-{index:05d}"
    root.mkdir(parents=True)
    (root / ".github" / "workflows").mkdir(parents=True)
    team = rng.choice(TEAMS)
    (root / ".github" / "CODEOWNERS").write_text(f"* @acme/{team}\n")
    # Most repositories have a clean CI workflow; some also a risky deploy or release one.
    for w, odds in enumerate((1.0, 0.2, 0.1)):
        if rng.random() < odds:
            (root / ".github" / "workflows" / f"wf-{w}.yml").write_text(WORKFLOWS[w])
    (root / "README.md").write_text(f"# {name}\n\n## Getting started\n\nmake run\n")
    services = rng.choice((1, 1, 1, 2, 2, 3, 4))
    for s in range(services):
        folder = root if services == 1 else root / "services" / f"svc-{s}"
        folder.mkdir(parents=True, exist_ok=True)
        lang = rng.choice(LANGUAGES)
        svc = {
            "name": f"{name}-svc{s}",
            "owner": rng.choice(TEAMS) if rng.random() < 0.9 else "",
            "tier": str(rng.randint(1, 3)),
            "life": rng.choice(LIFECYCLES),
            "lang": lang,
        }
        filename, text = _descriptor(rng, rng.randrange(5), svc)
        (folder / filename).write_text(text)
        digest = f"{rng.getrandbits(256):064x}"
        dockerfile = DOCKERFILES[LANGUAGES.index(lang) if rng.random() < 0.85 else 1]
        (folder / "Dockerfile").write_text(dockerfile.format(digest=digest, name=svc["name"]))
        manifest, mtext = MANIFESTS[lang]
        versions = {"py": f"3.{rng.choice((8, 9, 11, 12))}", "node": rng.choice((16, 18, 20))}
        versions |= {"go": rng.choice((19, 21, 22)), "rb": rng.choice((1, 2, 3))}
        (folder / manifest).write_text(mtext.format(name=svc["name"], **versions))
        if services > 1:
            (folder / "README.md").write_text(f"# {svc['name']}\n\nRuns the {lang} service.\n")
        src = folder / "src"
        src.mkdir()
        source_name, source = SOURCES[lang]
        for f in range(rng.randint(2, 12)):
            (src / f"{f:02d}_{source_name}").write_text(source.format(n=f))
    (root / "docs").mkdir()
    (root / "docs" / "architecture.md").write_text("# Architecture\n" + "Text.\n" * 40)
    _maybe_break(rng, root)


def _maybe_break(rng: random.Random, root: Path) -> None:
    """About one repository in ten carries something a scan must survive."""
    roll = rng.random()
    if roll < 0.03:
        (root / "opsgrade.yml").write_text("apiVersion: opsgrade/v1\nkind: Service\nname: [x\n")
    elif roll < 0.05:
        (root / "package.json").write_text('{"name": "broken", "dependencies": {')
    elif roll < 0.07:
        (root / "logo.png").write_bytes(bytes(rng.getrandbits(8) for _ in range(4096)))
    elif roll < 0.08:
        (root / "build.log").write_text("x" * 6 * 2**20)  # over the 5 MiB text bound
    elif roll < 0.10:
        (root / ".github" / "workflows" / "bad.yml").write_text("on: [push\njobs: {")


def generate(count: int, cache: Path = CACHE) -> Path:
    """The folder of `count` repositories, generated once and then reused."""
    folder = cache / f"v{VERSION}-{count}"
    marker = folder / ".complete"
    if marker.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    for index in range(count):
        write_repo(folder / f"repo-{index:05d}", index)
    marker.write_text("ok\n")
    return folder


if __name__ == "__main__":
    print(generate(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
