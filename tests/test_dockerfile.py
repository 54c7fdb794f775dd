"""The Dockerfile extractor on tricky input, and the docker pack end to end.

The rules' passing and failing cases live in rules/docker.tests.yml; this file covers
what cases cannot say well: the facts' exact shape, inputs that do not parse, bounds,
the per-scan parse cache, and that a secret's value reaches no output format.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from opsgrade.engine.extractors.dockerfile import (
    dockerfiles,
    is_dockerfile,
    is_secret_name,
    parse_dockerfile,
    split_image,
    substitute,
)
from opsgrade.engine.facts import EvalContext
from opsgrade.engine.model import Service, Status
from opsgrade.engine.packs import PackSource
from opsgrade.engine.repoview import open_view
from opsgrade.engine.scan import ScanRequest, scan
from opsgrade.engine.services import ServiceFiles
from opsgrade.reporters import REPORTERS

TODAY = dt.date(2026, 11, 26)
CLI_TIMEOUT = 120


def facts(text: str, path: str = "Dockerfile") -> dict[str, Any]:
    return parse_dockerfile(text, path)


def lines(items: list[dict[str, Any]]) -> list[int]:
    return [item["line"] for item in items]


def every_item_is_located(value: Any) -> None:
    """Every dict in a list of the facts carries `path` and a 1-based `line`."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, list):
                for item in inner:
                    if isinstance(item, dict):
                        assert isinstance(item.get("path"), str), (key, item)
                        assert isinstance(item.get("line"), int) and item["line"] >= 1, item
            every_item_is_located(inner)
    elif isinstance(value, list):
        for item in value:
            every_item_is_located(item)


# -- building blocks ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scope", "expected"),
    [
        ("python:${TAG}", {"TAG": "3.12"}, ("python:3.12", True)),
        ("python:$TAG-slim", {"TAG": "3.12"}, ("python:3.12-slim", True)),
        ("python:${TAG:-3.11}", {"TAG": None}, ("python:3.11", True)),
        ("python:${TAG:-3.11}", {"TAG": ""}, ("python:3.11", True)),
        ("python:${TAG-3.11}", {"TAG": ""}, ("python:", True)),
        ("python:${TAG:+set}", {"TAG": "x"}, ("python:set", True)),
        ("python:${TAG:+set}", {}, ("python:", True)),
        ("python:${TAG}", {"TAG": None}, ("python:", False)),
        ("${UNDECLARED}", {}, ("", False)),
    ],
)
def test_substitute(text: str, scope: dict[str, str | None], expected: tuple[str, bool]) -> None:
    assert substitute(text, scope) == expected


@pytest.mark.parametrize(
    ("reference", "parts"),
    [
        ("python", (None, "python", None, None)),
        ("python:3.12-slim", (None, "python", "3.12-slim", None)),
        ("library/python:3", (None, "library/python", "3", None)),
        (
            "registry.example.com:5000/team/app",
            ("registry.example.com:5000", "team/app", None, None),
        ),
        ("localhost/app:dev", ("localhost", "app", "dev", None)),
        ("ghcr.io/o/r:1@sha256:abc", ("ghcr.io", "o/r", "1", "sha256:abc")),
        ("python@sha256:abc", (None, "python", None, "sha256:abc")),
    ],
)
def test_split_image(reference: str, parts: tuple[str | None, ...]) -> None:
    found = split_image(reference)
    assert (found["registry"], found["name"], found["tag"], found["digest"]) == parts


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("DB_PASSWORD", True),
        ("NPM_TOKEN", True),
        ("apiKey", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("PRIVATE_KEY", True),
        ("DBPASSWORD", True),
        ("POSTGRES_PASSWORD_FILE", False),
        ("GPG_KEY", False),
        ("PUBLIC_KEY", False),
        ("TOKENIZERS_PARALLELISM", False),
        ("SSH_AUTH_SOCK", False),
        ("PWD", False),
        ("KEYRING", False),
        ("PATH", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("Dockerfile", True),
        ("deploy/Dockerfile", True),
        ("api.Dockerfile", True),
        ("Dockerfile.dev", True),
        ("Containerfile", True),
        ("Dockerfile.dockerignore", False),
        ("Dockerfile.j2", False),
        ("docs/Dockerfile.md", False),
        ("Dockerfiles/README", False),
    ],
)
def test_which_files_are_dockerfiles(path: str, expected: bool) -> None:
    assert is_dockerfile(path) is expected


# -- stages and instructions ------------------------------------------------------------


def test_stages_with_build_args_aliases_and_inheritance() -> None:
    found = facts(
        "ARG REGISTRY=ghcr.io\n"
        "ARG VERSION=1.22\n"
        "FROM ${REGISTRY}/acme/golang:${VERSION} AS Build\n"
        "USER builder\n"
        "FROM build AS test\n"
        "FROM scratch\n"
        "FROM --platform=$BUILDPLATFORM debian:12@sha256:abc AS final\n"
    )
    build, test, scratch, final = found["stages"]
    assert (build["registry"], build["name"], build["tag"]) == ("ghcr.io", "acme/golang", "1.22")
    assert build["alias"] == "Build" and build["unresolved"] is False
    assert test["from_stage"] is True and test["parent"] == 0  # stage names ignore case
    assert test["user"]["user"] == "builder"  # inherited from the stage it is built on
    assert scratch["scratch"] is True
    assert final["digest"] == "sha256:abc" and final["platform"] == "$BUILDPLATFORM"
    assert [s["final"] for s in found["stages"]] == [False, False, False, True]
    assert [s["final_image"] for s in found["stages"]] == [False, False, False, True]
    assert found["user"] is None
    every_item_is_located(found)


def test_an_image_left_to_a_build_argument_is_unresolved() -> None:
    found = facts("ARG PY\nFROM python:${PY} AS app\nFROM $BASE\n")
    app, other = found["stages"]
    assert (app["name"], app["tag"], app["unresolved"]) == ("python", "${PY}", True)
    assert (other["name"], other["unresolved"], other["reference"]) == ("$BASE", True, None)


def test_final_image_follows_the_chain_of_stages() -> None:
    found = facts("FROM debian:12 AS base\nFROM alpine:3 AS other\nFROM base\n")
    assert [s["final_image"] for s in found["stages"]] == [True, False, True]


def test_instructions_keyword_form_and_lines() -> None:
    found = facts(
        "from python:3.12\n"
        "run pip install \\\n"
        "    # a comment inside the continuation\n"
        "    flask==3.0.3\n"
        'CMD ["python", "app.py"]\n'
        "ENTRYPOINT exec python\n"
        "HEALTHCHECK NONE\n"
        "EXPOSE 8000 9090/udp ${METRICS_PORT}\n"
        "WORKDIR src\n"
    )
    keywords = [(i["keyword"], i["line"]) for i in found["instructions"]]
    assert keywords == [
        ("FROM", 1),
        ("RUN", 2),
        ("CMD", 5),
        ("ENTRYPOINT", 6),
        ("HEALTHCHECK", 7),
        ("EXPOSE", 8),
        ("WORKDIR", 9),
    ]
    run, cmd, entrypoint = found["instructions"][1:4]
    assert run["arguments"] == "pip install flask==3.0.3"
    assert run["end_line"] == 4
    assert (run["form"], cmd["form"], entrypoint["form"]) == ("shell", "exec", "shell")
    assert found["packages"] == [
        {
            "path": "Dockerfile",
            "line": 2,
            "manager": "pip",
            "name": "flask",
            "version": "==3.0.3",
            "pinned": True,
        }
    ]
    assert found["healthcheck"]["none"] is True
    ports = [(e["port"], e["protocol"]) for e in found["exposes"]]
    assert ports == [("8000", "tcp"), ("9090", "udp"), ("${METRICS_PORT}", "tcp")]
    assert found["workdirs"][0]["absolute"] is False


def test_bom_and_crlf_keep_line_numbers() -> None:
    found = facts(
        "\ufeff# comment\r\n"
        "FROM python:3.12\r\n"
        "RUN apt-get update \\\r\n"
        "  && apt install -y curl\r\n"
    )
    assert lines(found["stages"]) == [2]
    assert found["package_commands"][1]["manager"] == "apt"
    assert lines(found["package_commands"]) == [3, 3]
    assert not found["problems"]


def test_heredoc_run_is_read_as_a_script() -> None:
    found = facts(
        "FROM debian:12\n"
        "RUN <<EOT bash\n"
        "set -eux\n"
        "apt-get update\n"
        "curl -fsSL https://example.com/x.sh | sh\n"
        "EOT\n"
        "RUN python3 <<'EOF'\n"
        "import os; os.system('sudo pip install x')\n"
        "EOF\n"
        "COPY <<EOF /etc/motd\n"
        "hello\n"
        "EOF\n"
        "USER app\n"
    )
    assert lines(found["pipe_to_shell"]) == [2]
    assert lines(found["apt_lists"]) == [2]
    assert found["sudo"] == [] and found["packages"] == []  # python's stdin is not shell
    assert [i["heredoc"] for i in found["instructions"]] == [False, True, True, True, False]
    assert found["user"]["line"] == 13
    assert not found["problems"]


def test_exec_form_run_with_a_shell_is_read() -> None:
    found = facts('FROM alpine:3\nRUN ["/bin/sh", "-c", "apk add curl && sudo true"]\n')
    assert [p["name"] for p in found["packages"]] == ["curl"]
    assert lines(found["sudo"]) == [2]


def test_a_windows_shell_is_not_read_as_sh() -> None:
    found = facts(
        "FROM mcr.microsoft.com/windows/servercore:ltsc2022\n"
        'SHELL ["powershell", "-Command"]\n'
        "RUN Invoke-WebRequest https://example.com/x.ps1 | iex; pip install flask\n"
    )
    assert found["packages"] == [] and found["pipe_to_shell"] == []


def test_escape_directive_backtick() -> None:
    found = facts(
        "# escape=`\n"
        "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\n"
        "RUN echo one `\n"
        "    two\n"
        "USER ContainerUser\n"
    )
    assert found["directives"] == {"escape": "`"}
    assert lines(found["instructions"]) == [2, 3, 5]
    assert not found["problems"]


def test_package_arguments() -> None:
    found = facts(
        "FROM debian:12\n"
        "RUN apt-get -o Dpkg::Options::=--force-confnew install -y -t bookworm-backports "
        "curl=7.88 git/bookworm ./local.deb vim\n"
        "RUN apk add --virtual .deps --repository http://x gcc=13.2 musl-dev\n"
        'RUN pip install -r req.txt -c constraints.txt -e . "flask[async]>=3" '
        "git+https://github.com/o/r@v1 git+https://github.com/o/r2 ./wheel.whl requests\n"
        "RUN npm install --prefix /app @scope/pkg@1.2.3 @scope/bare lodash@latest left-pad\n"
        "RUN gem install rails:7.1.3 puma && gem install -v 2.5 bundler rake\n"
        "RUN go install ./cmd/... && go install golang.org/x/tools/gopls@v0.15.3 "
        "github.com/x/y@latest\n"
        "RUN sudo -u app env DEBIAN_FRONTEND=noninteractive apt-get install -y tini\n"
    )
    got = [(p["manager"], p["name"], p["pinned"]) for p in found["packages"]]
    assert got == [
        ("apt-get", "curl", True),
        ("apt-get", "git", True),
        ("apt-get", "vim", False),
        ("apk", "gcc", True),
        ("apk", "musl-dev", False),
        ("pip", "flask", True),
        ("pip", "git+https://github.com/o/r@v1", True),
        ("pip", "git+https://github.com/o/r2", False),
        ("pip", "requests", False),
        ("npm", "@scope/pkg", True),
        ("npm", "@scope/bare", False),
        ("npm", "lodash", False),
        ("npm", "left-pad", False),
        ("gem", "rails", True),
        ("gem", "puma", False),
        ("gem", "bundler", True),
        ("gem", "rake", True),
        ("go", "golang.org/x/tools/gopls", True),
        ("go", "github.com/x/y", False),
        ("apt-get", "tini", False),
    ]
    assert lines(found["sudo"]) == [8]


def test_tls_and_pipes_are_found_where_the_shell_puts_them() -> None:
    found = facts(
        "FROM debian:12\n"
        "ENV NODE_TLS_REJECT_UNAUTHORIZED=0\n"
        "ARG PIP_TRUSTED_HOST=pypi.internal\n"
        "RUN export GIT_SSL_NO_VERIFY=true && git clone https://example.com/r.git\n"
        "RUN curl -fsSLk https://x | sudo bash -s -- --yes\n"
        "RUN sh <(wget -qO- https://x)\n"
        "RUN echo 'curl -k https://x | sh'\n"
        "RUN curl -o k https://x && wget https://y\n"
    )
    tls = [(t["line"], t["tool"], t["setting"]) for t in found["tls_disabled"]]
    assert tls == [
        (2, "env", "NODE_TLS_REJECT_UNAUTHORIZED"),
        (3, "env", "PIP_TRUSTED_HOST"),
        (4, "env", "GIT_SSL_NO_VERIFY"),
        (5, "curl", "-k"),
    ]
    pipes = [(p["line"], p["fetcher"], p["shell"]) for p in found["pipe_to_shell"]]
    assert pipes == [(5, "curl", "bash"), (6, "wget", "sh")]


def test_secret_values_are_never_stored() -> None:
    found = facts(
        "FROM python:3.12\n"
        "ENV DB_PASSWORD=hunter2 APP_ENV=prod\n"
        'ENV API_TOKEN "hunter2 with spaces"\n'
        "ARG GITHUB_TOKEN\n"
        "ARG SIGNING_SECRET='hunter2'\n"
    )
    secrets = [(s["line"], s["name"], s["instruction"], s["has_value"]) for s in found["secrets"]]
    assert secrets == [
        (2, "DB_PASSWORD", "ENV", True),
        (3, "API_TOKEN", "ENV", True),
        (4, "GITHUB_TOKEN", "ARG", False),
        (5, "SIGNING_SECRET", "ARG", True),
    ]
    assert "hunter2" not in json.dumps(found)
    assert found["instructions"][1]["arguments"] == "DB_PASSWORD=<redacted> APP_ENV=prod"


# -- input that does not parse -------------------------------------------------------------


def test_unknown_instruction_is_a_located_problem_and_the_rest_still_parses() -> None:
    found = facts('FROM python:3.12\nFOO bar\nUSER app\nCMD ["x"]\n')
    assert [(p["line"], p["message"]) for p in found["problems"]] == [
        (2, "not a Dockerfile instruction (unknown keyword, or a line that lost its `\\`)")
    ]
    assert found["user"]["user"] == "app"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n# only comments\n",
        "RUN echo before any FROM\n",
        "FROM\n",
        "FROM python:3.12\nRUN\n)))\n{{{\nUSER\n",
        "\x01\x02\x03 not a dockerfile \x7f\n" * 50,
        'FROM python:3.12\nRUN echo "unterminated\nUSER app\n',
        "FROM a\nRUN " + "$(" * 300 + "x" + ")" * 300 + "\n",
        "FROM a\n" + "RUN x \\\n" * 500,
        "FROM a\nRUN <<EOT\nnever closed\n",
        "FROM a\nENV PASSWORD\nARG =x\nEXPOSE\nADD\nWORKDIR\nHEALTHCHECK CMD\n",
    ],
)
def test_garbage_gives_located_problems_without_crashing(text: str) -> None:
    found = facts(text)
    every_item_is_located(found)
    assert all(p["line"] >= 1 for p in found["problems"])
    json.dumps(found)  # plain data


def test_crafted_shell_is_cut_off_with_a_located_problem() -> None:
    # tree-sitter-bash's error recovery takes seconds and hundreds of megabytes on this
    # 20 KB line; the parse is cancelled after its step budget instead.
    found = facts("FROM a\nUSER app\nRUN " + "a | b | c && " * 1500 + "\nRUN sudo x\n")
    assert [(p["line"], p["message"]) for p in found["problems"]] == [
        (3, "RUN: shell too long or complex to read")
    ]
    assert lines(found["sudo"]) == [4]  # the next RUN is still read


def test_a_long_but_ordinary_run_is_read() -> None:
    packages = " ".join(f"pkg{i}=1.{i}" for i in range(900))  # about 10 KB
    found = facts(f"FROM debian:12\nRUN apt-get install -y {packages} && rm -rf /x\n")
    assert not found["problems"]
    assert len(found["packages"]) == 900


def test_an_oversized_dockerfile_is_a_problem_not_a_parse() -> None:
    found = facts("FROM a\n" + "# filler\n" * 40_000)
    assert [p["message"] for p in found["problems"]] == ["larger than 256 KiB; not parsed"]
    assert found["stages"] == []


def test_garbage_is_located_problems() -> None:
    found = facts("\x01\x02 nonsense {{{\n")
    assert found["problems"] and found["problems"][0]["line"] == 1
    assert facts("")["problems"] == [
        {"path": "Dockerfile", "line": 1, "message": "no FROM instruction"}
    ]
    assert lines(facts("RUN x\nFROM a\n")["problems"]) == [1]


def test_a_2000_line_dockerfile_parses() -> None:
    parts = ["FROM debian:12 AS base\n"]
    for i in range(400):
        parts.append(f"RUN apt-get update && apt-get install -y pkg{i}=1.{i} \\\n")
        parts.append(f"    && curl -fsSL https://example.com/{i} -o /tmp/{i} \\\n")
        parts.append("    && rm -rf /var/lib/apt/lists/*\n")
        parts.append(f"ENV VAR_{i}=value{i}\n")
        parts.append(f"COPY src/{i} /app/{i}\n")
    text = "".join(parts)
    assert text.count("\n") == 2001
    found = facts(text)
    assert len(found["packages"]) == 400
    assert not found["problems"]


# -- the provider in a scan ---------------------------------------------------------------


def test_provider_parses_each_file_once_per_scan(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:3.12\n")
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "worker.Dockerfile").write_text("FROM python\n")
    (tmp_path / "svc" / "notes.txt").write_text("FROM python\n")
    view = open_view(tmp_path)
    files = ServiceFiles({p: p for p in view.files()})
    shared: dict[Any, Any] = {}
    first = EvalContext(Service(name="a", root=""), files, view, None, shared=shared)
    second = EvalContext(Service(name="b", root=""), files, view, None, shared=shared)
    got = dockerfiles(first)
    assert [d["path"] for d in got] == ["Dockerfile", "svc/worker.Dockerfile"]
    assert all(a is b for a, b in zip(got, dockerfiles(second), strict=True))
    assert ("dockerfile", "Dockerfile") in shared


def _docker_scan(repo: Path) -> Any:
    return scan(ScanRequest(path=repo, packs=[PackSource("builtin", "docker")], today=TODAY))


def test_unreadable_dockerfiles_are_skipped_with_a_note(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".opsgrade").mkdir(parents=True)
    (repo / ".opsgrade" / "config.yml").write_text(
        "apiVersion: opsgrade/v1\nkind: Config\nmax_file_size: 1024\n"
    )
    (repo / "Dockerfile").write_text("FROM python\n" + "# padding\n" * 200)
    (repo / "bin.Dockerfile").write_bytes(b"FROM python\n\x00\x01\x02")
    run = _docker_scan(repo)
    results = {r.rule: r.status for r in run.services[0].results}
    assert results["DKR001"] == Status.PASS  # neither file was read
    noted = {n.path for n in run.notes}
    assert {"Dockerfile", "bin.Dockerfile"} <= noted


def test_inline_waivers_end_to_end(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "Dockerfile").write_text(
        "# opsgrade: ignore[DKR001] base image rebuilt nightly from main\n"
        "FROM registry.example.com/base\n"
        "# opsgrade: ignore[dkr014]\n"
        "MAINTAINER someone\n"
        "# opsgrade: ignore[DKR013] legacy layout until=2026-01-01\n"
        "WORKDIR app\n"
        "WORKDIR src\n"
    )
    run = _docker_scan(repo)
    results = {r.rule: r for r in run.services[0].results}
    assert results["DKR001"].status == Status.WAIVED
    assert results["DKR001"].waiver == "inline: base image rebuilt nightly from main"
    assert results["DKR014"].status == Status.FAIL  # a waiver needs a reason
    assert results["DKR013"].status == Status.FAIL  # expired, and line 7 is not covered
    assert [loc.line for loc in results["DKR013"].locations] == [6, 7]
    waiver_notes = sorted((n.line, n.message) for n in run.notes if n.kind == "waiver")
    assert waiver_notes == [
        (3, "inline waiver without a reason"),
        (5, "inline waiver for DKR013 expired on 2026-01-01"),
    ]


def test_a_partly_waived_finding_keeps_the_rest(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "Dockerfile").write_text(
        "FROM debian:12\n"
        "# opsgrade: ignore[DKR016] tracked in OPS-12\n"
        "RUN apt-get install -y curl\n"
        "RUN apt-get install -y git\n"
    )
    result = next(r for r in _docker_scan(repo).services[0].results if r.rule == "DKR016")
    assert result.status == Status.FAIL
    assert [loc.line for loc in result.locations] == [4]


def test_a_repository_without_dockerfiles_never_loads_tree_sitter(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("# no container here\n")
    (repo / "Dockerfile.md").write_text("FROM python\n")  # documentation, not a Dockerfile
    proc = subprocess.run(
        [
            *(sys.executable, "-X", "importtime", "-m", "opsgrade.engine", "scan", str(repo)),
            *("--pack", "docker", "--today", TODAY.isoformat(), "--format", "json"),
        ],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()]
    assert "jmespath" in imported  # the import log is there: the facts query ran
    assert not [name for name in imported if name.startswith("tree_sitter")]
    statuses = {r["status"] for s in json.loads(proc.stdout)["services"] for r in s["results"]}
    assert statuses == {"pass"}


@pytest.mark.parametrize("fmt", sorted(REPORTERS))
def test_a_secret_value_reaches_no_output(fmt: str, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "Dockerfile").write_text(
        "FROM python:3.12\n"
        "ENV DB_PASSWORD=hunter2\n"
        "ENV API_TOKEN hunter2\n"
        "ARG SIGNING_KEY=hunter2\n"
        'ENV BROKEN_SECRET="hunter2\n'
        "HUNTER2_INSTRUCTION hunter2\n"
    )
    out = tmp_path / f"report.{fmt}"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "opsgrade.engine",
            "scan",
            str(repo),
            "--pack",
            "docker",
            "--today",
            TODAY.isoformat(),
            "--format",
            fmt,
            "--format",
            f"{fmt}={out}",
        ],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    written = out.read_text("utf-8")
    for text in (proc.stdout, proc.stderr, written):
        assert "hunter2" not in text.lower()


def test_the_secret_finding_names_the_variable(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "Dockerfile").write_text("FROM python:3.12\nENV DB_PASSWORD=hunter2\n")
    result = next(r for r in _docker_scan(repo).services[0].results if r.rule == "DKR003")
    assert result.status == Status.FAIL
    assert "DB_PASSWORD" in result.message
    assert "hunter2" not in result.message
