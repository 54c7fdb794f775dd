"""CI facts: GitHub Actions, GitLab CI, CircleCI, dependency-update tools, and a summary.

Providers for the fact keys `github_workflows`, `gitlab_ci`, `circleci`,
`dependency_updates` and `ci` (registered in engine/facts.py). Each file is parsed
once per scan through `EvalContext.parsed`, so the services of a monorepo share the
parse of the repository's workflows. A file that is not valid YAML turns every rule
reading that key into an `error` located at the file and line; a file the view does
not read (binary, oversized) is skipped with the view's note.

The parsers live in ci_github.py (workflows, composite actions, `${{ }}` analysis in
ci_expressions.py) and ci_others.py (GitLab, CircleCI, Dependabot, Renovate), on the
helpers of ci_yaml.py.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from typing import Any

from opsgrade.engine.errors import ParseError
from opsgrade.engine.extractors import ci_github, ci_others
from opsgrade.engine.extractors.ci_expressions import regex
from opsgrade.engine.facts import EvalContext, FactError
from opsgrade.engine.model import Location
from opsgrade.engine.repoview import Unreadable

Item = dict[str, Any]

DEPENDABOT_FILES = (".github/dependabot.yml", ".github/dependabot.yaml")
RENOVATE_FILES = (
    "renovate.json",
    "renovate.json5",
    ".renovaterc",
    ".renovaterc.json",
    ".renovaterc.json5",
    ".github/renovate.json",
    ".github/renovate.json5",
    ".gitlab/renovate.json",
    ".gitlab/renovate.json5",
)
# CI systems we recognize by their file only; their text is searched for test commands.
OTHER_CI = {
    "Jenkinsfile": "jenkins",
    ".travis.yml": "travis",
    "azure-pipelines.yml": "azure_pipelines",
    "azure-pipelines.yaml": "azure_pipelines",
    "bitbucket-pipelines.yml": "bitbucket_pipelines",
    ".buildkite/pipeline.yml": "buildkite",
    ".drone.yml": "drone",
}
MAX_GITLAB_FILES = 50  # .gitlab-ci.yml plus the local files it includes, transitively
MAX_COMMAND = 2000  # characters of one command searched for a test runner


def _parsed(ctx: EvalContext, kind: str, path: str, parse: Callable[[str, str], Any]) -> Any:
    """`parse` of a repo file, once per scan; None when the view does not read it."""
    try:
        return ctx.parsed(kind, path, parse)
    except Unreadable:
        return None  # the view has noted why
    except ParseError as exc:
        line = exc.where.line if exc.where else 0
        raise FactError(f"{path}: {exc.message}", Location(path, max(line, 1))) from None


def _visible(ctx: EvalContext, accept: Callable[[str], bool]) -> list[str]:
    """Repo paths of the service's visible files whose visible path `accept`s."""
    return [repo for visible, repo in sorted(ctx.files.visible.items()) if accept(visible)]


def _repo_files(ctx: EvalContext) -> frozenset[str]:
    key = ("ci", "repo-files")
    if key not in ctx.shared:
        ctx.shared[key] = frozenset(ctx.view.files())
    files: frozenset[str] = ctx.shared[key]
    return files


# -- GitHub Actions -------------------------------------------------------------------


def _is_workflow(path: str) -> bool:
    # GitHub runs the files directly in .github/workflows, not in its sub-folders.
    return (
        path.startswith(".github/workflows/")
        and path.count("/") == 2
        and path.endswith((".yml", ".yaml"))
    )


def _is_action(path: str) -> bool:
    name = posixpath.basename(path)
    if name not in ("action.yml", "action.yaml"):
        return False
    return path == name or path.startswith(".github/actions/")


def _once(ctx: EvalContext, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """One result per scan for the same inputs: CI files are repository-wide, so every
    service of a monorepo sees the same ones, and rules that get the very same object
    reuse one query result (engine/checks.py FactsCheck)."""
    entry = ("ci:facts", *key)
    if entry not in ctx.shared:
        ctx.shared[entry] = build()
    return ctx.shared[entry]


def github_workflows(ctx: EvalContext) -> list[Item]:
    """Every workflow, then every local action definition (`kind: action`)."""
    workflows = _visible(ctx, _is_workflow)
    actions = _visible(ctx, _is_action)

    def build() -> list[Item]:
        found: list[Item] = []
        for path in workflows:
            workflow = _parsed(ctx, "ci:github-workflow", path, ci_github.parse_workflow)
            if workflow is not None:
                found.append(workflow)
        for path in actions:
            action = _parsed(ctx, "ci:github-action", path, ci_github.parse_action)
            if action is not None:
                found.append(action)
        return found

    result: list[Item] = _once(ctx, ("github", tuple(workflows), tuple(actions)), build)
    return result


# -- GitLab CI, CircleCI --------------------------------------------------------------


def gitlab_ci(ctx: EvalContext) -> Item | None:
    """`.gitlab-ci.yml` and the local files it includes, merged; None without one."""
    paths = _visible(ctx, lambda p: p == ".gitlab-ci.yml")
    if not paths:
        return None
    merged: Item | None = _once(ctx, ("gitlab", paths[0]), lambda: _gitlab(ctx, paths[0]))
    return merged


def _gitlab(ctx: EvalContext, path: str) -> Item | None:
    main = _parsed(ctx, "ci:gitlab", path, ci_others.parse_gitlab)
    if main is None:
        return None
    parts = [main]
    seen = {main["path"]}
    queue = list(main["include"])
    files = _repo_files(ctx)
    while queue and len(parts) < MAX_GITLAB_FILES:
        include = queue.pop(0)
        target = include.get("value")
        if include["kind"] != "local" or not isinstance(target, str) or "*" in target:
            continue  # remote, project and template includes are not in this repository
        target = target.lstrip("/")
        if target in seen or target not in files:
            continue
        seen.add(target)
        part = _parsed(ctx, "ci:gitlab", target, ci_others.parse_gitlab)
        if part is not None:
            parts.append(part)
            queue.extend(part["include"])
    return {
        "path": main["path"],
        "line": 1,
        "files": [p["path"] for p in parts],
        "stages": main["stages"] or list(ci_others.GITLAB_DEFAULT_STAGES),
        "jobs": [j for p in parts for j in p["jobs"]],
        "images": [i for p in parts for i in p["images"]],
        "include": [i for p in parts for i in p["include"]],
        "scripts": [s for p in parts for s in p["scripts"]],
    }


def circleci(ctx: EvalContext) -> Item | None:
    """`.circleci/config.yml`; None without one."""
    paths = _visible(ctx, lambda p: p == ".circleci/config.yml")
    if not paths:
        return None
    parsed: Item | None = _parsed(ctx, "ci:circleci", paths[0], ci_others.parse_circleci)
    return parsed


# -- dependency updates ---------------------------------------------------------------


def dependency_updates(ctx: EvalContext) -> Item:
    """Dependabot and Renovate configurations; `configured` when one is enabled."""
    dependabot = _visible(ctx, lambda p: p in DEPENDABOT_FILES)
    renovate = _visible(ctx, lambda p: p in RENOVATE_FILES)
    key = ("updates", tuple(dependabot), tuple(renovate))
    result: Item = _once(ctx, key, lambda: _dependency_updates(ctx, dependabot))
    return result


def _dependency_updates(ctx: EvalContext, dependabot: list[str]) -> Item:
    tools: list[Item] = []
    for path in dependabot:
        item = _parsed(ctx, "ci:dependabot", path, ci_others.parse_dependabot)
        if item is not None:
            tools.append(item)
    files = _repo_files(ctx)
    # Renovate reads its config from the repository root only (several names allowed).
    candidates = _visible(ctx, lambda p: p in RENOVATE_FILES)
    candidates += [p for p in RENOVATE_FILES if p in files and p not in candidates]
    if "package.json" in files:
        candidates.append("package.json")
    for path in candidates:
        try:
            item = ctx.parsed("ci:renovate", path, ci_others.parse_renovate)
        except Unreadable:
            continue
        if item is not None:
            tools.append(item)
    return {"configured": any(t["enabled"] for t in tools), "tools": tools}


# -- summary --------------------------------------------------------------------------

# One alternation on RE2 (linear time on hostile scripts); the group says which runner.
_TEST_RUNNERS = {
    "pytest": r"(?:^|[\s/=])(?:pytest|py\.test)(?:\s|$)|-m\s+pytest\b",
    "unittest": r"-m\s+unittest\b",
    "tox": r"(?:^|[\s/])tox(?:\s|$)",
    "nox": r"(?:^|[\s/])nox(?:\s|$)",
    "go_test": r"\bgo\s+test\b",
    "npm_test": r"\b(?:npm|yarn|pnpm|bun)\s+(?:run\s+)?test(?:[:\s]|$)"
    r"|\bnpm\s+(?:t|it|cit)(?:\s|$)",
    "js_runner": r"(?:^|[\s/])(?:jest|vitest|mocha|karma|ava)(?:\s|$)|\bplaywright\s+test\b",
    "maven": r"(?:^|[\s/])mvnw?\s(?:.*\s)?(?:test|verify|install|package)(?:\s|$)",
    "gradle": r"(?:^|[\s/])gradlew?\s(?:.*\s)?:?(?:\S+:)?(?:test|check|build)(?:\s|$)",
    "cargo_test": r"\bcargo\s+(?:\+\S+\s+)?(?:test|nextest)\b",
    "rspec": r"(?:^|[\s/])rspec(?:\s|$)",
    "rake_test": r"\b(?:rake|rails)\s+(?:test|spec)\b",
    "dotnet_test": r"\bdotnet\s+test\b",
    "make_test": r"(?:^|[\s/])g?make(?:\s|$)(?:.*\s)?"
    r"(?:test|tests|check|unit-?tests?|test-\S+|\S+-test)(?:\s|$)",
    "ctest": r"(?:^|[\s/])ctest(?:\s|$)",
    "phpunit": r"(?:^|[\s/])(?:phpunit|pest)(?:\s|$)",
    "mix_test": r"\bmix\s+test\b",
    "sbt_test": r"\bsbt\b.*\btest\b",
    "other_test": r"\b(?:swift|flutter|dart|deno|bazel|bazelisk|hatch)\s+test\b",
}
_SKIPPED_TESTS = r"-DskipTests\b|maven\.test\.skip=true|\s-x\s+:?test\b"
_INSTALL = (
    r"^\s*(?:sudo\s+)?(?:pip3?|python3?\s+-m\s+pip|uv(?:\s+pip)?|poetry|pipx|conda|mamba"
    r"|apt(?:-get)?|yum|dnf|apk|brew|npm|yarn|pnpm|bun|gem|cargo|go)\s+(?:install|add|i|get)\b"
)
_QUIET = r"^\s*(?:#|echo\b|printf\b)"
_SEPARATORS = r"&&|\|\||;|\n"
_runners: Any = None


def _runner_regex() -> Any:
    global _runners
    if _runners is None:
        import re2

        options = re2.Options()
        options.log_errors = False
        alternation = "|".join(f"(?P<{name}>{rx})" for name, rx in _TEST_RUNNERS.items())
        _runners = re2.compile(alternation, options)
    return _runners


def find_test_runner(script: str) -> tuple[str, int] | None:
    """The first test runner a script invokes and its 0-based line within the script."""
    runners = _runner_regex()
    for line_no, line in enumerate(script.split("\n")):
        for command in regex(_SEPARATORS).split(line):
            command = command[:MAX_COMMAND]
            if (
                not command.strip()
                or regex(_QUIET).match(command)
                or regex(_INSTALL).match(command)
            ):
                continue
            found = runners.search(command)
            if found is None or regex(_SKIPPED_TESTS).search(command):
                continue
            name = next(k for k, v in found.groupdict().items() if v is not None)
            return name, line_no
    return None


def _github_tests(workflows: Iterable[Item]) -> list[Item]:
    tests: list[Item] = []
    for workflow in workflows:
        for job in workflow["jobs"]:
            for step in job["steps"]:
                found = find_test_runner(step["run"]) if step["run"] else None
                if found is not None:
                    tests.append(_test(step, "github_actions", found[0]))
    return tests


def _test(where: Item, system: str, runner: str, line: int | None = None) -> Item:
    return {
        "path": where["path"],
        "line": where["line"] if line is None else line,
        "system": system,
        "runner": runner,
    }


def _gitlab_tests(gitlab: Item) -> list[Item]:
    tests: list[Item] = []
    for job in gitlab["jobs"]:
        found = find_test_runner("\n".join(job["script"]))
        if found is not None:
            tests.append(_test(job, "gitlab_ci", found[0]))
        elif job["stage"] == "test" and job["script"] and not job["trigger"]:
            tests.append(_test(job, "gitlab_ci", "stage:test"))
    return tests


def _circleci_tests(config: Item) -> list[Item]:
    tests: list[Item] = []
    for job in config["jobs"]:
        for run in job["runs"]:
            found = find_test_runner(run["command"])
            if found is not None:
                tests.append(_test(run, "circleci", found[0]))
        for step in job["orb_steps"]:
            if step["step"].endswith("/test"):  # node/test, python/test...
                tests.append(_test(step, "circleci", step["step"]))
    return tests


def _other_systems(ctx: EvalContext) -> tuple[list[Item], list[Item]]:
    files = _repo_files(ctx)
    visible = set(ctx.files.visible)
    found: list[Item] = []
    tests: list[Item] = []
    for name, system in OTHER_CI.items():
        path = ctx.files.visible[name] if name in visible else name if name in files else None
        if path is None:
            continue
        found.append({"path": path, "line": 1, "system": system})
        try:
            text = ctx.view.read_text(path)
        except Unreadable:
            continue
        runner = find_test_runner(text)
        if runner is not None:
            tests.append(_test({"path": path, "line": 1}, system, runner[0], runner[1] + 1))
    return found, tests


def ci_summary(ctx: EvalContext) -> Item:
    """Which CI systems are configured, their files, and the steps that run tests."""
    inputs = (
        ctx.facts.get("github_workflows"),
        ctx.facts.get("gitlab_ci"),
        ctx.facts.get("circleci"),
    )
    others = tuple(sorted(n for n in OTHER_CI if n in ctx.files.visible or n in _repo_files(ctx)))
    # Keyed by the inputs' identity (kept alive in the key, so no id is ever reused).
    key = ("summary", *(id(i) for i in inputs), others)
    entry = _once(ctx, key, lambda: (inputs, _summary(ctx)))
    summary: Item = entry[1]
    return summary


def _summary(ctx: EvalContext) -> Item:
    workflows = [w for w in ctx.facts.get("github_workflows") or [] if w["kind"] == "workflow"]
    gitlab = ctx.facts.get("gitlab_ci")
    circle = ctx.facts.get("circleci")
    files = [{"path": w["path"], "line": 1, "system": "github_actions"} for w in workflows]
    tests = _github_tests(ctx.facts.get("github_workflows") or [])
    if gitlab is not None:
        files += [{"path": p, "line": 1, "system": "gitlab_ci"} for p in gitlab["files"]]
        tests += _gitlab_tests(gitlab)
    if circle is not None:
        files.append({"path": circle["path"], "line": 1, "system": "circleci"})
        tests += _circleci_tests(circle)
    other_files, other_tests = _other_systems(ctx)
    files += other_files
    tests += other_tests
    systems = list(dict.fromkeys(f["system"] for f in files))
    return {
        "configured": bool(files),
        "systems": systems,
        "files": files,
        "runs_tests": bool(tests),
        "test_steps": tests,
    }
