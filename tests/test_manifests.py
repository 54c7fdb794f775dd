"""The manifests extractor and the `dependency` / `runtime` primitives, on real files.

Each test writes a small repository and reads the facts the way a scan does (RepoView,
service discovery, EvalContext), so parsing, line numbers, lockfile lookup and the
located errors are exercised end to end. The rule-level cases are in
rules/dependencies.tests.yml.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest

from opsgrade.engine.errors import ConfigError
from opsgrade.engine.extractors import manifests as extractor
from opsgrade.engine.facts import EvalContext, FactError
from opsgrade.engine.model import Status
from opsgrade.engine.packs import PackSource, load_packs
from opsgrade.engine.repoview import open_view
from opsgrade.engine.scan import ScanRequest, scan
from opsgrade.engine.services import anchor_for, assign_files, discover

TODAY = dt.date(2026, 11, 26)


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")


def context(root: Path, service: str | None = None, today: dt.date = TODAY) -> EvalContext:
    view = open_view(root)
    found = discover(view, "repo")
    visible = assign_files(found.services, view.files())
    chosen = next(s for s in found.services if service is None or s.name == service)
    own = visible[chosen.root]
    return EvalContext(chosen, own, view, anchor_for(chosen, own), None, {}, today)


def facts(tmp_path: Path, files: dict[str, str | bytes], key: str, **kw: Any) -> Any:
    write(tmp_path, files)
    return context(tmp_path, **kw).facts.get(key)


def deps(tmp_path: Path, files: dict[str, str | bytes], **kw: Any) -> dict[str, dict[str, Any]]:
    """`dependencies` by name (the last entry wins for a repeated name)."""
    return {d["name"]: d for d in facts(tmp_path, files, "dependencies", **kw)}


def error_of(tmp_path: Path, files: dict[str, str | bytes], key: str) -> FactError:
    write(tmp_path, files)
    with pytest.raises(FactError) as info:
        context(tmp_path).facts.get(key)
    return info.value


# -- Python ------------------------------------------------------------------------------


def test_requirements_files(tmp_path: Path) -> None:
    found = deps(
        tmp_path,
        {
            "requirements.txt": (
                "# service deps\n"
                "-r requirements/base.txt\n"
                "--index-url https://pypi.example/simple\n"
                "Flask[async]>=3.0 ; python_version >= '3.9'  # web\n"
                "requests==2.32.3 \\\n"
                "    --hash=sha256:abcd\n"
                "-e git+https://github.com/acme/lib.git#egg=acme_lib\n"
                "https://example.com/pkg.whl\n"
                "-r ../../outside.txt\n"
            ),
            "requirements/base.txt": "-r ../requirements.txt\nattrs>=23\n",
            "requirements-dev.txt": "pytest==8.3.3\n",
        },
    )
    assert found["flask"]["spec"] == ">=3.0"
    assert found["flask"]["marker"] == "python_version >= '3.9'"
    assert found["flask"]["line"] == 4
    assert found["requests"]["locked"] == "2.32.3"
    assert found["requests"]["line"] == 5
    assert found["acme-lib"]["source"] == "git"
    assert found["attrs"]["path"] == "requirements/base.txt"
    assert found["pytest"]["dev"] is True
    assert found["flask"]["dev"] is False


def test_requirements_include_outside_the_service_folder(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "shared/requirements-common.txt": "attrs==23.2.0\n",
            "svc/opsgrade.yml": "name: svc\n",
            "svc/requirements.txt": "-r ../shared/requirements-common.txt\nflask==3.0.3\n",
        },
    )
    ctx = context(tmp_path, "svc")
    paths = {m["path"] for m in ctx.facts.get("manifests")}
    assert paths == {"svc/requirements.txt", "shared/requirements-common.txt"}


def test_invalid_requirement_is_located(tmp_path: Path) -> None:
    exc = error_of(tmp_path, {"requirements.txt": "flask>=3\nrequests >= = 2\n"}, "dependencies")
    assert exc.location is not None
    assert (exc.location.path, exc.location.line) == ("requirements.txt", 2)
    assert "not a valid requirement" in exc.message


def test_pyproject_pep621_groups_poetry_and_uv(tmp_path: Path) -> None:
    pyproject = """\
[project]
name = "api"
requires-python = ">=3.11"
dependencies = [
  "fastapi>=0.110",
  "Pydantic_Settings~=2.2",
  "internal-lib",
]

[project.optional-dependencies]
test = ["pytest>=8"]
postgres = ["psycopg[binary]>=3.1"]

[dependency-groups]
lint = ["ruff>=0.6"]

[tool.uv.sources]
internal-lib = { workspace = true }

[tool.poetry.dependencies]
python = "^3.11"
httpx = "^0.27"
tool = { git = "https://github.com/acme/tool" }

[tool.poetry.group.docs.dependencies]
mkdocs = { version = "^1.6" }
"""
    found = deps(tmp_path, {"pyproject.toml": pyproject})
    assert found["fastapi"]["line"] == 5
    assert found["pydantic-settings"]["spec"] == "~=2.2"
    assert found["internal-lib"]["source"] == "workspace"
    assert found["pytest"]["dev"] is True
    assert found["psycopg"]["dev"] is False
    assert found["ruff"]["dev"] is True
    assert found["httpx"]["spec"] == "^0.27"
    assert found["httpx"]["line"] == 22
    assert found["tool"]["source"] == "git"
    assert found["mkdocs"]["dev"] is True
    runtimes = facts(tmp_path, {}, "runtimes")
    assert {(r["source"], r["min"]) for r in runtimes} == {
        ("requires-python", "3.11"),
        ("tool.poetry.dependencies.python", "3.11"),
    }


def test_invalid_toml_is_located(tmp_path: Path) -> None:
    exc = error_of(
        tmp_path, {"pyproject.toml": '[project]\nname = "x"\ndependencies = [\n'}, "runtimes"
    )
    assert exc.location is not None and exc.location.path == "pyproject.toml"
    assert exc.location.line >= 3
    assert "invalid TOML" in exc.message


def test_pipfile_and_pipfile_lock(tmp_path: Path) -> None:
    found = deps(
        tmp_path,
        {
            "Pipfile": (
                '[packages]\nrequests = "*"\ndjango = {version = ">=4.2"}\n\n'
                '[dev-packages]\npytest = "==8.3.3"\n\n[requires]\npython_version = "3.12"\n'
            ),
            "Pipfile.lock": json.dumps(
                {
                    "_meta": {},
                    "default": {
                        "requests": {"version": "==2.32.3"},
                        "django": {"version": "==4.2.16"},
                        "sqlparse": {"version": "==0.5.1"},
                    },
                    "develop": {"pytest": {"version": "==8.3.3"}},
                },
                indent=4,
            ),
        },
    )
    assert found["requests"]["unbounded"] is True
    assert found["requests"]["locked"] == "2.32.3"
    assert found["django"]["locked"] == "4.2.16"
    assert found["pytest"]["dev"] is True
    assert found["sqlparse"]["direct"] is False
    assert found["sqlparse"]["path"] == "Pipfile.lock"


def test_python_lockfiles(tmp_path: Path) -> None:
    pyproject = '[project]\nname = "a"\ndependencies = ["flask>=3", "attrs"]\n'
    poetry = (
        '[[package]]\nname = "flask"\nversion = "3.0.3"\ncategory = "main"\n\n'
        '[[package]]\nname = "pytest"\nversion = "8.3.3"\ngroups = ["dev"]\n\n'
        '[package.dependencies]\nname = "not a package name"\n\n'
        '[metadata.files]\n"zope.interface" = [\n    {file = "z.tar.gz"},\n]\n'
    )
    found = deps(tmp_path, {"pyproject.toml": pyproject, "poetry.lock": poetry})
    assert found["flask"]["locked"] == "3.0.3"
    assert found["flask"]["lockfile"] == "poetry.lock"
    assert found["attrs"]["locked"] is None
    assert found["pytest"]["dev"] is True
    assert found["pytest"]["line"] == 6


UV_LOCK = """\
version = 1
requires-python = ">=3.12"

[[package]]
name = "api"
version = "0.1.0"
source = { editable = "." }
dependencies = [
    { name = "flask" },
]

[package.metadata]
requires-dist = [{ name = "flask", specifier = ">=3" }]

[[package]]
name = "flask"
version = "3.0.3"
source = { registry = "https://pypi.org/simple" }
dependencies = [
    { name = "werkzeug" },
]
sdist = { url = "https://files.example/flask-3.0.3.tar.gz", hash = "sha256:ab", size = 1 }
wheels = [
    { url = "https://files.example/flask-3.0.3-py3-none-any.whl", hash = "sha256:cd" },
]

[[package]]
name = "Werkzeug"
version = "3.0.4"
source = { registry = "https://pypi.org/simple" }
"""


def test_uv_lock_read_line_by_line(tmp_path: Path) -> None:
    pyproject = '[project]\nname = "api"\ndependencies = ["flask>=3"]\n'
    found = deps(tmp_path, {"pyproject.toml": pyproject, "uv.lock": UV_LOCK})
    assert (found["flask"]["locked"], found["flask"]["lockfile"]) == ("3.0.3", "uv.lock")
    assert (found["werkzeug"]["locked"], found["werkzeug"]["line"]) == ("3.0.4", 27)
    assert "api" not in found  # the project itself


@pytest.mark.parametrize(
    ("lock", "line", "message"),
    [
        ('version = 1\n\n[[package]\nname = "a"\n', 3, "malformed table header"),
        ('[[package]]\nname = "a"\n<<<<<<< HEAD\nversion = "1"\n', 3, "not a TOML lockfile line"),
        ('[[package]]\nname = "a"\n=======\n', 3, "not a TOML lockfile line"),
    ],
)
def test_broken_toml_lockfile_is_located(
    tmp_path: Path, lock: str, line: int, message: str
) -> None:
    files: dict[str, str | bytes] = {
        "pyproject.toml": '[project]\nname = "x"\ndependencies = ["a"]\n',
        "uv.lock": lock,
    }
    exc = error_of(tmp_path, files, "dependencies")
    assert exc.location is not None and (exc.location.path, exc.location.line) == ("uv.lock", line)
    assert message in exc.message


def test_pylock_toml(tmp_path: Path) -> None:
    lock = 'lock-version = "1.0"\n\n[[packages]]\nname = "Flask"\nversion = "3.0.3"\n'
    found = deps(
        tmp_path,
        {"pyproject.toml": '[project]\nname="a"\ndependencies=["flask"]\n', "pylock.toml": lock},
    )
    assert found["flask"]["locked"] == "3.0.3"


# -- Node --------------------------------------------------------------------------------


def test_package_json_sections_and_sources(tmp_path: Path) -> None:
    package = {
        "name": "web",
        "engines": {"node": ">=20.10"},
        "volta": {"node": "20.11.1"},
        "dependencies": {
            "express": "^4.18.2",
            "lib": "file:../lib",
            "ui": "workspace:^",
            "fork": "github:acme/fork#main",
            "short": "acme/short",
            "alias": "npm:lodash@^4.17.21",
            "tagged": "next",
        },
        "devDependencies": {"jest": "29.7.0"},
        "peerDependencies": {"react": ">=18"},
    }
    found = deps(tmp_path, {"package.json": json.dumps(package, indent=2)})
    assert found["express"]["line"] == 10
    assert found["lib"]["source"] == "path"
    assert found["ui"]["source"] == "workspace"
    assert found["fork"]["source"] == "git"
    assert found["short"]["source"] == "git"
    assert found["alias"]["spec"] == "^4.17.21"
    assert found["tagged"]["unbounded"] is True
    assert found["jest"]["dev"] is True and found["jest"]["pinned"] is True
    assert "react" not in found
    runtimes = facts(tmp_path, {}, "runtimes")
    assert [(r["source"], r["min"]) for r in runtimes] == [
        ("engines.node", "20.10"),
        ("volta.node", "20.11.1"),
    ]


def test_package_lock_v3_workspaces(tmp_path: Path) -> None:
    lock = {
        "name": "root",
        "lockfileVersion": 3,
        "packages": {
            "": {"name": "root", "workspaces": ["services/web"]},
            "node_modules/express": {"version": "4.19.2"},
            "node_modules/ms": {"version": "2.1.3"},
            "node_modules/debug/node_modules/ms": {"version": "2.0.0"},
            "node_modules/web": {"resolved": "services/web", "link": True},
            "services/web/node_modules/express": {"version": "4.18.0"},
            "node_modules/jest": {"version": "29.7.0", "dev": True},
        },
    }
    write(
        tmp_path,
        {
            "opsgrade.yml": "name: repo\n",
            "package.json": '{"name": "root", "devDependencies": {"jest": "^29"}}',
            "package-lock.json": json.dumps(lock, indent=2),
            "services/web/opsgrade.yml": "name: web\n",
            "services/web/package.json": '{"name": "web", "dependencies": {"express": "^4"}}',
        },
    )
    web = {d["name"]: d for d in context(tmp_path, "web").facts.get("dependencies")}
    assert web["express"]["locked"] == "4.18.0"  # the workspace's own entry wins
    assert web["express"]["lockfile"] == "package-lock.json"
    root = context(tmp_path, "repo").facts.get("dependencies")
    ms = sorted((d["locked"], d["line"]) for d in root if d["name"] == "ms")
    assert [v for v, _ in ms] == ["2.0.0", "2.1.3"]
    assert all(line > 1 for _, line in ms)


def test_package_lock_v1(tmp_path: Path) -> None:
    lock = {
        "lockfileVersion": 1,
        "dependencies": {
            "express": {"version": "4.17.1", "dependencies": {"ms": {"version": "2.0.0"}}},
            "jest": {"version": "26.6.3", "dev": True},
        },
    }
    found = deps(
        tmp_path,
        {
            "package.json": json.dumps(
                {"dependencies": {"express": "^4.17.1"}, "devDependencies": {"jest": "^26"}}
            ),
            "package-lock.json": json.dumps(lock, indent=2),
        },
    )
    assert found["express"]["locked"] == "4.17.1"
    assert found["ms"]["direct"] is False
    assert found["jest"]["dev"] is True


YARN_V1 = """\
# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.
# yarn lockfile v1


"@babel/code-frame@^7.0.0", "@babel/code-frame@^7.10.4":
  version "7.12.13"
  resolved "https://registry.yarnpkg.com/@babel/code-frame/-/code-frame-7.12.13.tgz"
  dependencies:
    "@babel/highlight" "^7.12.13"

lodash@^4.17.15:
  version "4.17.20"

lodash@^4.17.21:
  version "4.17.21"
"""

YARN_BERRY = """\
# This file is generated by running "yarn install" inside your project.

__metadata:
  version: 8
  cacheKey: 10

"@babel/code-frame@npm:^7.0.0, @babel/code-frame@npm:^7.10.4":
  version: 7.24.7
  resolution: "@babel/code-frame@npm:7.24.7"

"lodash@npm:^4.17.21":
  version: 4.17.21
  resolution: "lodash@npm:4.17.21"

"web@workspace:.":
  version: 0.0.0-use.local
  resolution: "web@workspace:."
"""


@pytest.mark.parametrize("lock", [YARN_V1, YARN_BERRY], ids=["v1", "berry"])
def test_yarn_lock(tmp_path: Path, lock: str) -> None:
    package = {
        "name": "web",
        "dependencies": {"lodash": "^4.17.21", "@babel/code-frame": "^7.10.4"},
    }
    found = deps(tmp_path, {"package.json": json.dumps(package), "yarn.lock": lock})
    assert found["lodash"]["locked"] == "4.17.21"  # the entry for this spec, not ^4.17.15's
    assert found["@babel/code-frame"]["locked"] in ("7.12.13", "7.24.7")
    assert "web" not in {k for k, d in found.items() if not d["direct"]}


def test_yarn_lock_garbage_is_located(tmp_path: Path) -> None:
    files = {
        "package.json": '{"dependencies": {"a": "^1"}}',
        "yarn.lock": "# yarn\nthis is not a lockfile\n",
    }
    exc = error_of(tmp_path, files, "dependencies")
    assert exc.location is not None and (exc.location.path, exc.location.line) == ("yarn.lock", 2)


PNPM_V9 = """\
lockfileVersion: '9.0'

importers:

  .:
    dependencies:
      express:
        specifier: ^4.18.2
        version: 4.19.2
    devDependencies:
      typescript:
        specifier: ^5.4.0
        version: 5.4.5

packages:

  express@4.19.2:
    resolution: {integrity: sha512-x}

  ms@2.1.3:
    resolution: {integrity: sha512-y}

  '@types/node@20.12.7':
    resolution: {integrity: sha512-z}

snapshots:

  express@4.19.2: {}
"""

PNPM_V6 = """\
lockfileVersion: '6.0'

dependencies:
  express:
    specifier: ^4.18.2
    version: 4.19.2

packages:

  /express@4.19.2:
    resolution: {integrity: sha512-x}
    dev: false

  /react-dom@18.2.0(react@18.2.0):
    resolution: {integrity: sha512-x}
    dev: false
"""

PNPM_V5 = """\
lockfileVersion: 5.4

specifiers:
  express: ^4.18.2

dependencies:
  express: 4.18.2

packages:

  /express/4.18.2:
    resolution: {integrity: sha512-x}
    dev: false

  /@types/node/18.0.0:
    resolution: {integrity: sha512-x}
    dev: true

  /react-dom/17.0.2_react@17.0.2:
    resolution: {integrity: sha512-x}
    dev: false
"""


@pytest.mark.parametrize(
    ("lock", "express", "transitive"),
    [
        (PNPM_V9, "4.19.2", {"ms": "2.1.3", "@types/node": "20.12.7"}),
        (PNPM_V6, "4.19.2", {"react-dom": "18.2.0"}),
        (PNPM_V5, "4.18.2", {"@types/node": "18.0.0", "react-dom": "17.0.2"}),
    ],
    ids=["v9", "v6", "v5"],
)
def test_pnpm_lock(tmp_path: Path, lock: str, express: str, transitive: dict[str, str]) -> None:
    package = '{"dependencies": {"express": "^4.18.2"}}'
    found = deps(tmp_path, {"package.json": package, "pnpm-lock.yaml": lock})
    assert found["express"]["locked"] == express
    for name, version in transitive.items():
        assert found[name]["locked"] == version
        assert found[name]["direct"] is False
        assert found[name]["line"] > 1


def test_pnpm_alias_bomb_is_refused(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    files = {"package.json": '{"dependencies": {"a": "^1"}}', "pnpm-lock.yaml": bomb}
    exc = error_of(tmp_path, files, "dependencies")
    assert exc.location is not None and exc.location.path == "pnpm-lock.yaml"


# -- Go ----------------------------------------------------------------------------------


def test_go_mod(tmp_path: Path) -> None:
    go_mod = """\
module example.com/api

go 1.22.3

toolchain go1.23.1

require github.com/google/uuid v1.6.0

require (
	golang.org/x/net v0.23.0 // indirect
	"example.com/local" v0.0.0-00010101000000-000000000000
)

replace example.com/local => ../local

exclude golang.org/x/net v0.1.0
"""
    found = deps(tmp_path, {"go.mod": go_mod, "go.sum": "x\n"})
    assert found["github.com/google/uuid"] | {} == found["github.com/google/uuid"]
    uuid = found["github.com/google/uuid"]
    assert (uuid["spec"], uuid["locked"], uuid["line"], uuid["pinned"]) == (
        "v1.6.0",
        "v1.6.0",
        7,
        True,
    )
    assert found["golang.org/x/net"]["direct"] is False
    assert found["example.com/local"]["source"] == "path"
    runtime = facts(tmp_path, {}, "runtimes")
    assert [(r["version"], r["line"], r["cycle"]) for r in runtime] == [("1.22.3", 3, "1.22")]
    manifest = next(m for m in facts(tmp_path, {}, "manifests") if m["kind"] == "go-mod")
    assert manifest["locked"] is True and manifest["lock"] == "go.sum"


@pytest.mark.parametrize(
    ("go_mod", "line"),
    [
        ("module x\n\nrequire github.com/a/b\n", 3),
        ("module x\n\nrequire (\n\tgithub.com/a/b v1.0.0\n", 3),
        ("module x\n\ngo banana\n", 3),
    ],
)
def test_go_mod_errors_are_located(tmp_path: Path, go_mod: str, line: int) -> None:
    exc = error_of(tmp_path, {"go.mod": go_mod}, "dependencies")
    assert exc.location is not None and (exc.location.path, exc.location.line) == ("go.mod", line)


# -- Ruby --------------------------------------------------------------------------------

GEMFILE = """\
source "https://rubygems.org"
ruby "~> 3.2.0"

gem "rails", "~> 7.1", ">= 7.1.3"
gem 'pg', '>= 1.1',
  '< 2.0'
gem "puma", require: false # comment with "quotes"
gem "internal", git: "https://github.com/acme/internal"
gem "local", path: "../local"
gem "debug", platforms: %i[mri windows], group: :development

group :development, :test do
  gem "rspec-rails"
  platforms :mri do
    gem "byebug"
  end
end

gem "sidekiq", "~> 7.2"
"""

GEMFILE_LOCK = """\
GEM
  remote: https://rubygems.org/
  specs:
    nokogiri (1.16.7-x86_64-linux)
      racc (~> 1.4)
    pg (1.5.9)
    rails (7.1.3.4)
    racc (1.8.1)

PLATFORMS
  x86_64-linux

DEPENDENCIES
  pg (>= 1.1, < 2.0)
  rails (~> 7.1, >= 7.1.3)

RUBY VERSION
   ruby 3.2.5p208

BUNDLED WITH
   2.5.16
"""


def test_gemfile_and_lock(tmp_path: Path) -> None:
    found = deps(tmp_path, {"Gemfile": GEMFILE, "Gemfile.lock": GEMFILE_LOCK})
    assert found["rails"]["spec"] == "~> 7.1, >= 7.1.3"
    assert found["rails"]["locked"] == "7.1.3.4"
    assert found["pg"]["spec"] == ">= 1.1, < 2.0"
    assert found["puma"]["unbounded"] is True
    assert found["internal"]["source"] == "git"
    assert found["local"]["source"] == "path"
    assert found["debug"]["dev"] is True
    assert found["rspec-rails"]["dev"] is True
    assert found["byebug"]["dev"] is True
    assert found["sidekiq"]["dev"] is False  # after `end`
    assert found["sidekiq"]["line"] == 19
    assert found["nokogiri"]["locked"] == "1.16.7"  # platform suffix dropped
    runtimes = facts(tmp_path, {}, "runtimes")
    assert [(r["source"], r["min"]) for r in runtimes] == [
        ("Gemfile ruby", "3.2.0"),
        ("Gemfile.lock RUBY VERSION", "3.2.5"),
    ]


def test_gemfile_lock_garbage_is_located(tmp_path: Path) -> None:
    files = {"Gemfile": 'gem "rails"\n', "Gemfile.lock": "GEM\n  specs:\n<<<<<<< HEAD\n"}
    exc = error_of(tmp_path, files, "dependencies")
    assert exc.location is not None and (exc.location.path, exc.location.line) == (
        "Gemfile.lock",
        3,
    )


# -- Java --------------------------------------------------------------------------------

POM = """\
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <parent>
    <groupId>org.springframework.boot</groupId>
    <artifactId>spring-boot-starter-parent</artifactId>
    <version>3.3.0</version>
  </parent>
  <artifactId>api</artifactId>
  <properties>
    <java.version>21</java.version>
    <log4j.version>2.17.1</log4j.version>
  </properties>
  <dependencyManagement>
    <dependencies>
      <dependency>
        <groupId>com.fasterxml.jackson.core</groupId>
        <artifactId>jackson-databind</artifactId>
        <version>2.17.2</version>
      </dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>${log4j.version}</version>
    </dependency>
    <dependency>
      <groupId>com.fasterxml.jackson.core</groupId>
      <artifactId>jackson-databind</artifactId>
    </dependency>
    <dependency>
      <groupId>org.springframework.boot</groupId>
      <artifactId>spring-boot-starter-web</artifactId>
    </dependency>
    <dependency>
      <groupId>org.junit.jupiter</groupId>
      <artifactId>junit-jupiter</artifactId>
      <version>${junit.version}</version>
      <scope>test</scope>
    </dependency>
  </dependencies>
</project>
"""


def test_pom(tmp_path: Path) -> None:
    found = deps(tmp_path, {"pom.xml": POM})
    log4j = found["org.apache.logging.log4j:log4j-core"]
    assert (log4j["spec"], log4j["line"], log4j["pinned"]) == ("2.17.1", 23, True)
    assert found["com.fasterxml.jackson.core:jackson-databind"]["spec"] == "2.17.2"
    web = found["org.springframework.boot:spring-boot-starter-web"]
    assert (web["source"], web["unbounded"]) == ("managed", False)
    junit = found["org.junit.jupiter:junit-jupiter"]
    assert (junit["dev"], junit["source"]) == (True, "managed")  # unresolved property
    runtime = facts(tmp_path, {}, "runtimes")
    assert [(r["version"], r["line"], r["source"]) for r in runtime] == [("21", 10, "java.version")]
    assert facts(tmp_path, {}, "detected") == {
        "language": "java",
        "framework": "spring-boot",
        "languages": ["java"],
    }


BILLION_LAUGHS = """\
<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<project><artifactId>&lol9;</artifactId></project>
"""

XXE = """\
<?xml version="1.0"?>
<!DOCTYPE project [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<project><dependencies><dependency><groupId>&xxe;</groupId><artifactId>a</artifactId>
<version>1</version></dependency></dependencies></project>
"""


@pytest.mark.parametrize("pom", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_pom_entity_attacks_are_located_errors(tmp_path: Path, pom: str) -> None:
    start = time.perf_counter()
    exc = error_of(tmp_path, {"pom.xml": pom}, "dependencies")
    assert time.perf_counter() - start < 1.0
    assert exc.location is not None and (exc.location.path, exc.location.line) == ("pom.xml", 2)
    assert "DOCTYPE" in exc.message
    assert "root:" not in exc.message


def test_malformed_pom_is_located(tmp_path: Path) -> None:
    pom = "<project>\n  <dependencies>\n    <dependency>\n  </dependencies>\n</project>\n"
    exc = error_of(tmp_path, {"pom.xml": pom}, "dependencies")
    assert exc.location is not None and (exc.location.path, exc.location.line) == ("pom.xml", 4)
    assert "invalid XML" in exc.message


def test_pom_nested_too_deeply(tmp_path: Path) -> None:
    pom = "<project>" + "<a>" * 500 + "</a>" * 500 + "</project>"
    exc = error_of(tmp_path, {"pom.xml": pom}, "dependencies")
    assert "nested deeper" in exc.message


GRADLE_GROOVY = """\
plugins { id 'java' }
def jacksonVersion = '2.17.2'
java { toolchain { languageVersion = JavaLanguageVersion.of(17) } }
dependencies {
    implementation 'org.slf4j:slf4j-api:2.0.13'
    implementation "com.fasterxml.jackson.core:jackson-databind:$jacksonVersion"
    implementation platform('org.springframework.boot:spring-boot-dependencies:3.3.0')
    implementation 'org.springframework.boot:spring-boot-starter-web'
    runtimeOnly group: 'org.postgresql', name: 'postgresql', version: '42.7.3'
    testImplementation 'org.junit.jupiter:junit-jupiter:5.10.2'
    // implementation 'commented:out:1.0'
    implementation libs.guava
}
"""

GRADLE_KTS = """\
plugins { kotlin("jvm") version "2.0.0" }
kotlin { jvmToolchain(21) }
val ktorVersion = "2.3.11"
dependencies {
    implementation("io.ktor:ktor-server-core:$ktorVersion")
    implementation(group = "com.google.guava", name = "guava", version = "33.2.1-jre")
    testImplementation(kotlin("test"))
    androidTestImplementation("androidx.test:runner:1.5.2")
}
"""


def test_gradle_groovy(tmp_path: Path) -> None:
    found = deps(tmp_path, {"build.gradle": GRADLE_GROOVY})
    assert found["org.slf4j:slf4j-api"]["spec"] == "2.0.13"
    assert found["org.slf4j:slf4j-api"]["line"] == 5
    assert found["com.fasterxml.jackson.core:jackson-databind"]["spec"] == "2.17.2"
    assert found["org.springframework.boot:spring-boot-starter-web"]["source"] == "managed"
    assert found["org.postgresql:postgresql"]["spec"] == "42.7.3"
    assert found["org.junit.jupiter:junit-jupiter"]["dev"] is True
    assert "commented:out" not in found
    runtime = facts(tmp_path, {}, "runtimes")
    assert [(r["min"], r["line"]) for r in runtime] == [("17", 3)]


def test_gradle_kotlin_dsl_catalog_and_lockfile(tmp_path: Path) -> None:
    catalog = """\
[versions]
guava = "33.2.1-jre"

[libraries]
guava = { module = "com.google.guava:guava", version.ref = "guava" }
slf4j = "org.slf4j:slf4j-api:2.0.13"
bom = { group = "org.springframework.boot", name = "spring-boot-dependencies", version = "3.3.0" }
"""
    lockfile = (
        "# Gradle lockfile\n"
        "io.ktor:ktor-server-core:2.3.11=compileClasspath,runtimeClasspath\n"
        "org.junit:junit-bom:5.10.2=testCompileClasspath\n"
        "empty=annotationProcessor\n"
    )
    found = deps(
        tmp_path,
        {
            "build.gradle.kts": GRADLE_KTS,
            "gradle/libs.versions.toml": catalog,
            "gradle.lockfile": lockfile,
        },
    )
    assert found["io.ktor:ktor-server-core"]["spec"] == "2.3.11"
    assert found["io.ktor:ktor-server-core"]["locked"] == "2.3.11"
    assert found["com.google.guava:guava"]["spec"] == "33.2.1-jre"
    assert found["org.slf4j:slf4j-api"]["path"] == "gradle/libs.versions.toml"
    assert found["org.slf4j:slf4j-api"]["line"] == 6
    assert found["androidx.test:runner"]["dev"] is True
    assert found["org.junit:junit-bom"]["dev"] is True
    assert [r["min"] for r in facts(tmp_path, {}, "runtimes")] == ["21"]


# -- Rust --------------------------------------------------------------------------------


def test_cargo(tmp_path: Path) -> None:
    cargo = """\
[package]
name = "api"
rust-version = "1.75"

[dependencies]
serde = { version = "1.0", features = ["derive"] }
tokio = "1"
my-log = { package = "log", version = "0.4" }
local = { path = "../local" }
shared = { workspace = true }

[dev-dependencies]
proptest = "1.4"

[target.'cfg(unix)'.dependencies]
libc = "0.2"

[dependencies.rand]
version = "0.8"
"""
    lock = """\
version = 3

[[package]]
name = "api"
version = "0.1.0"

[[package]]
name = "serde"
version = "1.0.203"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "itoa"
version = "1.0.11"
source = "registry+https://github.com/rust-lang/crates.io-index"
"""
    found = deps(tmp_path, {"Cargo.toml": cargo, "Cargo.lock": lock})
    assert found["serde"]["locked"] == "1.0.203"
    assert found["serde"]["line"] == 6
    assert found["log"]["spec"] == "0.4"
    assert found["local"]["source"] == "path"
    assert found["shared"]["source"] == "managed"
    assert found["proptest"]["dev"] is True
    assert found["libc"]["line"] == 16
    assert found["rand"]["line"] == 18
    assert found["itoa"]["direct"] is False
    assert "api" not in found
    assert [r["min"] for r in facts(tmp_path, {}, "runtimes")] == ["1.75"]


# -- .NET --------------------------------------------------------------------------------


def test_dotnet_projects(tmp_path: Path) -> None:
    api = """\
<Project Sdk="Microsoft.NET.Sdk.Web">
  <PropertyGroup>
    <TargetFrameworks>net8.0;net48</TargetFrameworks>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Newtonsoft.Json" Version="13.0.3" />
    <PackageReference Include="Serilog" />
    <PackageReference Include="Polly">
      <Version>8.4.0</Version>
    </PackageReference>
  </ItemGroup>
</Project>
"""
    tests = """\
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net8.0</TargetFramework></PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Microsoft.NET.Test.Sdk" Version="17.10.0" />
    <PackageReference Include="xunit" Version="2.8.1" />
  </ItemGroup>
</Project>
"""
    central = """\
<Project>
  <ItemGroup>
    <PackageVersion Include="Serilog" Version="4.0.0" />
  </ItemGroup>
</Project>
"""
    lock = {
        "version": 1,
        "dependencies": {"net8.0": {"Newtonsoft.Json": {"type": "Direct", "resolved": "13.0.3"}}},
    }
    found = deps(
        tmp_path,
        {
            "Directory.Packages.props": central,
            "src/Api/Api.csproj": api,
            "src/Api/packages.lock.json": json.dumps(lock, indent=2),
            "tests/Api.Tests/Api.Tests.csproj": tests,
        },
    )
    assert found["newtonsoft.json"]["locked"] == "13.0.3"
    assert found["newtonsoft.json"]["line"] == 6
    assert found["serilog"]["spec"] == "4.0.0"  # from Directory.Packages.props
    assert found["polly"]["spec"] == "8.4.0"
    assert found["xunit"]["dev"] is True
    runtimes = facts(tmp_path, {}, "runtimes")
    # .NET 8 ended on 2026-11-10; .NET Framework 4.8 has no end date.
    assert sorted((r["product"], r["min"], r["eol_passed"]) for r in runtimes) == [
        ("dotnet", "8.0", True),
        ("dotnet", "8.0", True),
        ("dotnetfx", "4.8", False),
    ]
    assert facts(tmp_path, {}, "detected")["framework"] == "aspnetcore"


def test_packages_config(tmp_path: Path) -> None:
    config = (
        '<?xml version="1.0" encoding="utf-8"?>\n<packages>\n'
        '  <package id="NUnit" version="3.14.0" targetFramework="net48"\n'
        '           developmentDependency="true" />\n'
        '  <package id="Newtonsoft.Json" version="13.0.3" targetFramework="net48" />\n</packages>\n'
    )
    found = deps(tmp_path, {"packages.config": config})
    assert found["nunit"]["dev"] is True
    assert found["newtonsoft.json"]["line"] == 5


# -- version files and runtimes ----------------------------------------------------------


def test_version_files(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".tool-versions": (
                "# asdf\nnodejs 20.11.1\npython 3.12.4 3.11.9\njava temurin-17.0.2+8\n"
            ),
            "svc/opsgrade.yml": "name: svc\n",
            "svc/.python-version": "3.10.14\npypy3.9-7.3.16\nsystem\n",
            "svc/.nvmrc": "lts/hydrogen\n",
            "svc/runtime.txt": "python-3.11.9\n",
            "svc/rust-toolchain.toml": '[toolchain]\nchannel = "1.79.0"\n',
            "svc/global.json": '{\n  "sdk": {\n    "version": "8.0.303"\n  }\n}\n',
            "svc/.ruby-version": "ruby-3.3.4\n",
            "svc/.go-version": "1.21.0\n",
            "svc/.java-version": "1.8\n",
        },
    )
    runtimes = context(tmp_path, "svc").facts.get("runtimes")
    seen = {(r["path"], r["line"]): (r["language"], r["min"], r["eol_passed"]) for r in runtimes}
    assert seen[(".tool-versions", 2)] == ("node", "20.11.1", True)
    assert seen[(".tool-versions", 3)] == ("python", "3.12.4", False)
    assert seen[(".tool-versions", 4)] == ("java", "17.0.2", False)
    assert seen[("svc/.python-version", 1)] == ("python", "3.10.14", True)
    assert seen[("svc/.python-version", 2)] == ("python", "3.9", True)
    assert ("svc/.python-version", 3) not in seen
    assert seen[("svc/.nvmrc", 1)] == ("node", "18", True)
    assert seen[("svc/runtime.txt", 1)] == ("python", "3.11.9", False)
    assert seen[("svc/rust-toolchain.toml", 2)] == ("rust", "1.79.0", False)
    assert seen[("svc/global.json", 3)] == ("dotnet", "8.0.303", True)
    assert seen[("svc/.ruby-version", 1)] == ("ruby", "3.3.4", False)
    assert seen[("svc/.go-version", 1)] == ("go", "1.21.0", True)
    assert seen[("svc/.java-version", 1)] == ("java", "8", False)


@pytest.mark.parametrize(
    ("language", "version", "product", "lowest", "floating"),
    [
        ("node", "lts/*", "node", None, True),
        ("node", "lts/iron", "node", (20,), False),
        ("node", "v18.17.0", "node", (18, 17, 0), False),
        ("node", "^20.10 || >=22", "node", (20, 10), False),
        ("python", ">=3.9,<4", "python", (3, 9), False),
        ("python", "3.12-dev", "python", (3, 12), False),
        ("ruby", "jruby-9.4.8.0", "jruby", None, False),
        ("java", "1.8.0_412", "java", (8, 0), False),
        ("java", "corretto-21.0.4.7.1", "java", (21, 0, 4, 7, 1), False),
        ("dotnet", "netcoreapp3.1", "dotnet", (3, 1), False),
        ("dotnet", "net8.0-windows10.0.19041", "dotnet", (8, 0), False),
        ("dotnet", "net472", "dotnetfx", (4, 7, 2), False),
        ("dotnet", "netstandard2.0", "netstandard", None, False),
        ("rust", "stable", "rust", None, True),
        ("go", "1.21rc2", "go", (1, 21), False),
    ],
)
def test_normalize_runtime(
    language: str, version: str, product: str, lowest: tuple[int, ...] | None, floating: bool
) -> None:
    assert extractor.normalize_runtime(language, version) == (product, lowest, floating)


def test_end_of_life_table() -> None:
    table = extractor.eol_table()
    assert set(table) >= {"python", "node", "go", "ruby", "java", "dotnet", "dotnetfx"}
    assert extractor.end_of_life("python", (3, 11, 4)) == ("3.11", dt.date(2027, 10, 31))
    assert extractor.end_of_life("python", (3, 1)) == ("3.1", dt.date(2012, 4, 9))
    assert extractor.end_of_life("python", (3, 10)) == ("3.10", dt.date(2026, 10, 31))
    # Older than every listed line: past end of life; newer: not known to be.
    assert extractor.end_of_life("node", (0, 12))[1] == dt.date(2018, 4, 30)
    assert extractor.end_of_life("node", (99,)) == (None, None)
    assert extractor.end_of_life("rust", (1, 75)) == (None, None)


def test_eol_is_judged_on_the_scan_date(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {".python-version": "3.10\n"}
    before = facts(tmp_path, files, "runtimes", today=dt.date(2026, 10, 31))
    after = facts(tmp_path, {}, "runtimes", today=dt.date(2026, 11, 1))
    assert before[0]["eol_passed"] is False
    assert after[0]["eol_passed"] is True


# -- manifests, lockfile lookup, detection -----------------------------------------------


def test_manifest_listing_and_lock_lookup(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "package.json": '{"private": true, "workspaces": ["services/*"]}',
            "pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
            "services/web/opsgrade.yml": "name: web\n",
            "services/web/package.json": '{"dependencies": {"express": "^4"}}',
            "services/web/.nvmrc": "20\n",
            "services/web/requirements.in": "flask>=3\n",
            "services/web/requirements.txt": "flask==3.0.3\n",
            "services/web/vendor/github.com/x/go.mod": "module x\n",
            "services/web/test/fixtures/package.json": "{broken",
        },
    )
    found = {m["path"]: m for m in context(tmp_path, "web").facts.get("manifests")}
    assert set(found) == {
        "services/web/package.json",
        "services/web/requirements.in",
        "services/web/requirements.txt",
    }
    web = found["services/web/package.json"]
    assert (web["needs_lock"], web["locked"], web["lock"]) == (True, True, "pnpm-lock.yaml")
    assert web["runtime_declared"] is True
    assert found["services/web/requirements.in"]["lock"] == "services/web/requirements.txt"
    compiled = found["services/web/requirements.txt"]
    assert (compiled["lockfile"], compiled["runtime_declared"]) == (True, False)


def test_detected_language_and_framework(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "package.json": '{"devDependencies": {"prettier": "^3"}}',
            "pyproject.toml": '[project]\nname = "a"\ndependencies = ["Django>=5"]\n',
            "frontend/package.json": '{"dependencies": {"react": "^18"}}',
            "tools/go.mod": "module tools\n",
        },
    )
    assert context(tmp_path).facts.get("detected") == {
        "language": "python",
        "framework": "django",
        "languages": ["python", "node", "go"],
    }


def test_detected_survives_a_broken_manifest(tmp_path: Path) -> None:
    detected = facts(tmp_path, {"package.json": "{not json"}, "detected")
    assert detected == {"language": "node", "framework": None, "languages": ["node"]}


def test_when_language_uses_the_detected_language(tmp_path: Path) -> None:
    write(tmp_path, {"go.mod": "module x\n\ngo 1.23\n"})
    ctx = context(tmp_path)
    assert ctx.attribute("language") == "go"


# -- hostile and huge inputs -------------------------------------------------------------


def test_huge_lockfile_is_skipped_with_a_note(tmp_path: Path) -> None:
    entry = '    "node_modules/pkg-{i}": {{"version": "1.0.{i}"}},\n'
    body = "".join(entry.format(i=i) for i in range(420_000))
    lock = '{\n  "lockfileVersion": 3,\n  "packages": {\n' + body + '    "": {}\n  }\n}\n'
    assert len(lock) > 20 * 1024 * 1024
    write(
        tmp_path,
        {
            "package.json": '{"engines": {"node": "22"}, "dependencies": {"express": "^4.19.2"}}',
            "package-lock.json": lock,
        },
    )
    start = time.perf_counter()
    ctx = context(tmp_path)
    manifest = next(m for m in ctx.facts.get("manifests") if m["kind"] == "package-json")
    express = next(d for d in ctx.facts.get("dependencies") if d["name"] == "express")
    assert time.perf_counter() - start < 2.0
    assert manifest["locked"] is True  # the lockfile exists, even if it is not read
    assert (express["locked"], express["lockfile"]) == (None, None)
    assert any(n.path == "package-lock.json" and "not read" in n.message for n in ctx.view.notes())


def test_pathological_text_stays_linear(tmp_path: Path) -> None:
    spaces = " " * 200_000
    package = {"dependencies": {f"pkg-{i}": f"^1.{i}.0" for i in range(50_000)}}
    package["dependencies"]["odd"] = spaces + "x"
    files: dict[str, str | bytes] = {
        "requirements.txt": f"flask{spaces}x\nrequests ; python_version{spaces}>x\n",
        "package.json": json.dumps(package, indent=2),
        "Gemfile": "gem 'rails', " + "'1', " * 50_000 + "'2'\n",
        ".python-version": "3." + "1" * 100_000 + "\n",
    }
    write(tmp_path, files)
    start = time.perf_counter()
    ctx = context(tmp_path)
    with pytest.raises(FactError):  # the requirements file is invalid, quickly
        ctx.facts.get("dependencies")
    (tmp_path / "requirements.txt").unlink()
    ctx = context(tmp_path)
    found = {d["name"]: d for d in ctx.facts.get("dependencies")}
    ctx.facts.get("runtimes")
    assert found["pkg-49999"]["line"] == 50_002
    assert time.perf_counter() - start < 5.0


def test_errors_never_repeat_the_offending_text(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {
        "requirements.txt": (
            "flask==3.0.3\nflask @ https://deploy:s3cr3t-t0ken@pkgs.example/x.whl junk\n"
        )
    }
    exc = error_of(tmp_path, files, "dependencies")
    assert exc.location is not None and exc.location.line == 2
    assert "s3cr3t" not in exc.message


def test_deeply_nested_json_is_a_located_error(tmp_path: Path) -> None:
    nested = '{"dependencies": {"a": "^1"}, "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    exc = error_of(tmp_path, {"package.json": nested}, "dependencies")
    assert exc.location is not None and exc.location.path == "package.json"


def test_binary_manifest_is_skipped(tmp_path: Path) -> None:
    found = facts(tmp_path, {"package.json": b"\x00\x01\x02binary"}, "dependencies")
    assert found == []


def test_a_broken_lockfile_errors_only_the_rules_that_read_it(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "package.json": '{"engines": {"node": "22"}, "dependencies": {"a": "^1.0.0"}}',
            "yarn.lock": "# yarn lockfile v1\n<<<<<<< HEAD\n",
        },
    )
    run = scan(
        ScanRequest(path=tmp_path, packs=[PackSource("builtin", "dependencies")], today=TODAY)
    )
    results = {r.rule: r for r in run.services[0].results}
    for rule_id in ("DEP002", "DEP005"):  # they read `dependencies`, which reads yarn.lock
        assert results[rule_id].status == Status.ERROR
        assert (results[rule_id].path, results[rule_id].line) == ("yarn.lock", 2)
    for rule_id in ("DEP001", "DEP003", "DEP004"):
        assert results[rule_id].status == Status.PASS


# -- the `dependency` and `runtime` primitives -------------------------------------------

PACK_HEAD = """\
apiVersion: opsgrade/v1
kind: RulePack
metadata: {name: campaign}
rules:
"""


def rule(rule_id: str, check: str) -> str:
    return (
        f"  - id: {rule_id}\n    title: t\n    level: bronze\n    category: c\n"
        f"    help: Why. How.\n    check: {check}\n"
    )


def run_pack(tmp_path: Path, rules: str, files: dict[str, str | bytes]) -> dict[str, Any]:
    pack = tmp_path / "campaign.yml"
    pack.write_text(PACK_HEAD + rules, encoding="utf-8")
    repo = tmp_path / "repo"
    write(repo, files)
    run = scan(ScanRequest(path=repo, packs=[PackSource("file", str(pack))], today=TODAY))
    return {r.rule: r for r in run.services[0].results}


LOCKED_APP: dict[str, str | bytes] = {
    "pyproject.toml": (
        '[project]\nname = "api"\nrequires-python = ">=3.12"\n'
        'dependencies = [\n  "requests>=2.20",\n  "urllib3",\n]\n\n'
        '[dependency-groups]\ndev = ["pytest>=7"]\n'
    ),
    "uv.lock": (
        'version = 1\n\n[[package]]\nname = "requests"\nversion = "2.32.3"\n\n'
        '[[package]]\nname = "idna"\nversion = "3.2"\n\n'
        '[[package]]\nname = "pytest"\nversion = "7.4.0"\n'
    ),
    "package.json": '{"dependencies": {"lodash": "^4.17.4"}}\n',
    ".ruby-version": "3.1.6\n",
    "Gemfile": 'gem "rails", "~> 7.1"\n',
}


def test_dependency_check(tmp_path: Path) -> None:
    rules = "".join(
        [
            rule("LOCKED", '{dependency: {name: Requests, ecosystem: python, version: ">=2.31"}}'),
            rule("TOO-OLD", '{dependency: {name: requests, ecosystem: python, version: ">=2.33"}}'),
            rule(
                "FROM-SPEC", '{dependency: {name: lodash, ecosystem: node, version: ">=4.17.21"}}'
            ),
            rule("UNKNOWN", '{dependency: {name: urllib3, ecosystem: python, version: ">=2"}}'),
            rule("TRANSITIVE", '{dependency: {name: idna, ecosystem: python, version: ">=3.7"}}'),
            rule("BANNED", "{dependency: {name: lodash, present: false}}"),
            rule("ABSENT", "{dependency: {name: left-pad, present: false}}"),
            rule("REQUIRED", "{dependency: {name: opentelemetry-sdk, ecosystem: python}}"),
            rule(
                "DEV-IGNORED",
                "{dependency: {name: pytest, version: '>=8', ecosystem: python,"
                " include_dev: false}}",
            ),
            rule("DEV-COUNTED", '{dependency: {name: pytest, version: ">=8", ecosystem: python}}'),
            rule("NOT", "{not: {dependency: {name: requests}}}"),
        ]
    )
    results = run_pack(tmp_path, rules, LOCKED_APP)
    status = {k: v.status.value for k, v in results.items()}
    assert status == {
        "LOCKED": "pass",
        "TOO-OLD": "fail",
        "FROM-SPEC": "fail",
        "UNKNOWN": "fail",
        "TRANSITIVE": "fail",
        "BANNED": "fail",
        "ABSENT": "pass",
        "REQUIRED": "fail",
        "DEV-IGNORED": "fail",  # no non-dev pytest: "no dependency on" it
        "DEV-COUNTED": "fail",
        "NOT": "fail",
    }
    assert results["LOCKED"].message == "requests 2.32.3 satisfies >=2.31"
    assert results["TOO-OLD"].message == "requests 2.32.3 does not satisfy >=2.33"
    assert (results["TOO-OLD"].path, results["TOO-OLD"].line) == ("pyproject.toml", 5)
    assert results["FROM-SPEC"].message == "lodash 4.17.4 does not satisfy >=4.17.21"
    assert "no lockfile pins it" in results["UNKNOWN"].message
    assert (results["TRANSITIVE"].path, results["TRANSITIVE"].line) == ("uv.lock", 7)
    assert (results["BANNED"].path, results["BANNED"].line) == ("package.json", 1)
    assert (results["REQUIRED"].path, results["REQUIRED"].line) == ("pyproject.toml", 1)


def test_runtime_check(tmp_path: Path) -> None:
    rules = "".join(
        [
            rule("RUBY-32", '{runtime: {language: ruby, at_least: "3.2"}}'),
            rule("PY-312", '{runtime: {language: python, at_least: "3.12"}}'),
            rule("PY-313", '{runtime: {language: python, at_least: "3.13"}}'),
            rule("GO-ANY", '{runtime: {language: go, at_least: "1.22"}}'),
            rule("NODE-DECLARED", "{runtime: {language: node, declared: true}}"),
            rule("NODE-20", '{runtime: {language: node, at_least: "20"}}'),
            rule("PY-DECLARED", "{runtime: {language: python, declared: true}}"),
            rule("JAVA-NONE", "{runtime: {language: java, declared: false}}"),
        ]
    )
    results = run_pack(tmp_path, rules, LOCKED_APP)
    status = {k: v.status.value for k, v in results.items()}
    assert status == {
        "RUBY-32": "fail",
        "PY-312": "pass",
        "PY-313": "fail",
        "GO-ANY": "pass",  # no Go in this service
        "NODE-DECLARED": "fail",
        "NODE-20": "fail",
        "PY-DECLARED": "pass",
        "JAVA-NONE": "pass",
    }
    assert results["RUBY-32"].message == "ruby 3.1.6 (.ruby-version) admits 3.1.6, below 3.2"
    assert (results["RUBY-32"].path, results["RUBY-32"].line) == (".ruby-version", 1)
    assert results["NODE-20"].message.startswith("no node version is declared")
    assert (results["NODE-20"].path, results["NODE-20"].line) == ("package.json", 1)


def test_runtime_floating_and_unreadable(tmp_path: Path) -> None:
    rules = rule("NODE", '{runtime: {language: node, at_least: "22"}}') + rule(
        "RUBY", '{runtime: {language: ruby, at_least: "3.2"}}'
    )
    files: dict[str, str | bytes] = {".nvmrc": "lts/*\n", ".ruby-version": "jruby-9.4.8.0\n"}
    results = run_pack(tmp_path, rules, files)
    assert results["NODE"].status == Status.PASS
    assert results["RUBY"].status == Status.FAIL
    assert "not a version to compare" in results["RUBY"].message


@pytest.mark.parametrize(
    ("check", "message", "line"),
    [
        ('{dependency: {name: requests, version: ">=2"}}', "`version` needs `ecosystem`", 10),
        ('{dependency: {name: requests, ecosystem: python, version: "2.31"}}', "not a PEP 440", 10),
        (
            '{dependency: {name: log4j-core, ecosystem: java, version: "[2.17,)"}}',
            "groupId:artifactId",
            10,
        ),
        (
            '{dependency: {name: log4j:log4j, ecosystem: java, version: "2.17"}}',
            "soft requirement",
            10,
        ),
        ('{runtime: {language: ruby, at_least: "3.x"}}', "dotted version number", 10),
    ],
)
def test_invalid_checks_are_located_pack_errors(
    tmp_path: Path, check: str, message: str, line: int
) -> None:
    pack = tmp_path / "campaign.yml"
    pack.write_text(PACK_HEAD + rule("BAD", check), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_packs([PackSource("file", str(pack))])
    assert message in str(info.value)
    assert info.value.where is not None and info.value.where.line == line
