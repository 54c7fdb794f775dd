"""GitHub Actions workflows and local composite actions, as plain data with lines.

One workflow becomes one dict: its triggers, `permissions`, jobs and steps, and flat
lists the rules query (every `uses`, every `env` entry, hard-coded credentials,
`ACTIONS_ALLOW_UNSECURE_COMMANDS`, secrets read). Every item carries `path` and `line`.
Values are read from the constructed YAML; lines from its nodes, looked up by the
key's text, because YAML 1.1 reads the key `on` as the boolean true.

A step's findings point at the step's first line, so an inline waiver written above
the step (`# opsgrade: ignore[CI007] reason`) covers it. Findings about one key (a
job's `permissions`, an `env` entry, a container password) point at that key.
Literal values under credential-like keys are replaced by `<redacted>` here, so no
rule, built-in or written by a user, can echo them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from opsgrade.engine.errors import Located, ParseError
from opsgrade.engine.extractors import ci_expressions as ex
from opsgrade.engine.extractors.ci_yaml import (
    Item,
    Lines,
    items,
    key_text,
    line_at,
    mapping,
    node_lines,
)
from opsgrade.engine.yamlio import load_documents

# Triggers that run with the base repository's secrets and a writable token although
# anyone can cause them (a fork's pull request, a comment); zizmor's dangerous-triggers.
DANGEROUS_TRIGGERS = ("pull_request_target", "workflow_run", "issue_comment")
FIRST_PARTY_OWNERS = frozenset({"actions", "github"})
REDACTED = "<redacted>"
# Passwords of the disposable service containers and test databases of a CI job: they
# protect nothing, and flagging them would bury the real findings.
THROWAWAY_PASSWORDS = frozenset(
    {"postgres", "password", "passwd", "test", "testing", "secret", "root", "admin"}
    | {"example", "mysql", "redis", "guest", "dummy", "fake", "local", "changeme"}
)
MAX_SCRIPT_EXPRESSIONS = 200  # per step: enough for any real script, bounded for a hostile one

_SHA = r"[0-9a-fA-F]{40}"
_TAG = r"v?\d+(?:\.\d+)*(?:[-+._][0-9A-Za-z.+_-]*)?|v\d.*"
_CREDENTIAL_KEY = (
    r"(?:^|_)(?:password|passwd|pwd|pass|token|secret|api_?key|access_?key|secret_?key"
    r"|private_?key|client_secret|credentials?)$"
)
_SECRETS_READ = r"\bsecrets\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*'([^']+)'\s*\])"
_GH_PR_CHECKOUT = r"\bgh\s+pr\s+checkout\b"
_GIT = r"\bgit\b"
_GIT_FETCH = r"\bgit\s+(?:fetch|checkout|switch|pull|reset)\b"
_SCRIPT_SINKS = {("actions", "github-script"): "script"}


def is_credential_key(name: str) -> bool:
    return ex.regex(_CREDENTIAL_KEY).search(name.lower().replace("-", "_")) is not None


def is_literal_secret(value: object) -> bool:
    """A written-out value (not an expression, a variable, empty, or the throwaway
    password of a test database such as `postgres`) under a secret's key."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    if len(text) < 4 or text.lower() in THROWAWAY_PASSWORDS:
        return False
    return "${{" not in text and not text.startswith("$")


def _scalar_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


# -- uses -----------------------------------------------------------------------------


def classify_ref(ref: str | None) -> str:
    """`sha` (a full commit id), `tag` (semver-ish or v-prefixed), else `branch`."""
    if not ref:
        return "none"
    if ex.regex(_SHA).fullmatch(ref):
        return "sha"
    if ex.regex(_TAG).fullmatch(ref):
        return "tag"
    return "branch"


def parse_uses(raw: str) -> Item:
    """`owner/repo[/path]@ref`, `./local/path` or `docker://image[:tag][@digest]`."""
    text = raw.strip()
    base: Item = {
        "uses": text,
        "kind": "repository",
        "owner": None,
        "repo": None,
        "subpath": None,
        "ref": None,
        "ref_kind": "none",
        "first_party": False,
        "pinned": False,
    }
    if text.startswith(("./", ".\\")) or text == ".":
        return {**base, "kind": "local", "subpath": text[2:], "pinned": True, "ref_kind": None}
    if text.startswith("docker://"):
        return {**base, **_docker(text.removeprefix("docker://"))}
    if "${{" in text:
        return {**base, "kind": "expression", "ref_kind": "unknown"}
    name, _, ref = text.partition("@")
    owner, _, rest = name.partition("/")
    repo, _, subpath = rest.partition("/")
    kind = classify_ref(ref or None)
    return {
        **base,
        "owner": owner,
        "repo": repo,
        "subpath": subpath or None,
        "ref": ref or None,
        "ref_kind": kind,
        "first_party": owner.lower() in FIRST_PARTY_OWNERS,
        "pinned": kind == "sha",
    }


def _docker(image: str) -> Item:
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.partition(":")[2] or None
    return {
        "kind": "docker",
        "image": name,
        "ref": digest or tag,
        "ref_kind": "digest" if digest else ("tag" if tag else "none"),
        "pinned": bool(digest),
    }


# -- the walker -----------------------------------------------------------------------


class _Workflow:
    """Builds one file's dict; the flat lists are filled while jobs and steps are read."""

    def __init__(self, path: str, kind: str) -> None:
        self.path = path
        self.kind = kind
        self.uses: list[Item] = []
        self.env: list[Item] = []
        self.credentials: list[Item] = []
        self.insecure: list[Item] = []

    def item(self, line: int, **fields: Any) -> Item:
        return {"path": self.path, "line": line, **fields}

    def result(self, data: dict[Any, Any], node: yaml.Node | None, **fields: Any) -> Item:
        return {
            "path": self.path,
            "line": 1,
            "kind": self.kind,
            "name": data.get("name") if isinstance(data.get("name"), str) else None,
            **fields,
            "uses": self.uses,
            "env": self.env,
            "credentials": self.credentials,
            "insecure_commands": self.insecure,
            "secrets": self._secrets(node),
        }

    # -- workflow level

    def workflow(self, data: dict[Any, Any], node: yaml.Node | None) -> Item:
        lines = node_lines(node)
        on_key = "on" if "on" in data else (True if True in data else None)
        on_line, on_node = lines.get("on", (1, None))
        triggers = self._triggers(
            data.get(on_key) if on_key is not None else None, on_line, on_node
        )
        events = [t["event"] for t in triggers]
        permissions = self._permissions(data, lines, 1)
        self._env(data.get("env"), lines, 1, "workflow")
        jobs_line, jobs_node = lines.get("jobs", (1, None))
        job_lines = node_lines(jobs_node)
        jobs = [
            self._job(key_text(job_id), mapping(job), job_lines, jobs_line, permissions)
            for job_id, job in mapping(data.get("jobs")).items()
        ]
        return self.result(
            data,
            node,
            triggers=triggers,
            events=events,
            dangerous_triggers=[e for e in events if e in DANGEROUS_TRIGGERS],
            permissions=permissions,
            jobs=jobs,
        )

    def _triggers(self, value: object, line: int, node: yaml.Node | None) -> list[Item]:
        if isinstance(value, str):
            return [self.item(line, event=value)]
        if isinstance(value, list):
            nodes = items(node)
            return [
                self.item(line_at(nodes[i] if i < len(nodes) else None, line), event=str(event))
                for i, event in enumerate(value)
                if isinstance(event, str)
            ]
        if isinstance(value, dict):
            keys = node_lines(node)
            return [self.item(keys.get(key_text(k), (line,))[0], event=key_text(k)) for k in value]
        return []

    def _permissions(self, holder: dict[Any, Any], lines: Lines, default_line: int) -> Item:
        if "permissions" not in holder:
            return self.item(default_line, kind="missing", scopes={}, writes=[])
        value = holder["permissions"]
        line = lines.get("permissions", (default_line,))[0]
        scopes: dict[str, str] = {}
        if value in ("write-all", "read-all"):
            kind = str(value)
        elif value is None or value == {}:
            kind = "none"
        elif isinstance(value, dict):
            kind = "map"
            scopes = {key_text(k): _scalar_text(v) for k, v in value.items()}
        else:
            kind = "invalid"
        writes = sorted(k for k, v in scopes.items() if v == "write")
        return self.item(line, kind=kind, scopes=scopes, writes=writes)

    def _env(
        self,
        value: object,
        lines: Lines,
        default_line: int,
        scope: str,
        job: str | None = None,
        step: int | None = None,
    ) -> dict[str, str]:
        """Records each entry (redacting literal secrets); returns name -> shown value."""
        if not isinstance(value, dict):
            return {}
        env_line, env_node = lines.get("env", (default_line, None))
        keys = node_lines(env_node)
        shown: dict[str, str] = {}
        for key, raw in value.items():
            name = key_text(key)
            line = keys.get(name, (env_line,))[0]
            text = _scalar_text(raw)
            secret = is_credential_key(name) and is_literal_secret(raw)
            shown[name] = REDACTED if secret else text
            where = {"scope": scope, "job": job, "step": step}
            self.env.append(self.item(line, name=name, value=shown[name], **where))
            if secret:
                self.credentials.append(self.item(line, key=name, where=f"{scope}.env", **where))
            if name == "ACTIONS_ALLOW_UNSECURE_COMMANDS" and text.strip().lower() not in (
                "false",
                "0",
                "",
            ):
                self.insecure.append(self.item(line, **where))
        return shown

    # -- jobs

    def _job(
        self, job_id: str, job: dict[Any, Any], job_lines: Lines, jobs_line: int, inherited: Item
    ) -> Item:
        line, node = job_lines.get(job_id, (jobs_line, None))
        lines = node_lines(node)
        permissions = self._permissions(job, lines, line)
        if permissions["kind"] == "missing":
            # What GitHub applies: the workflow's block, pointed at this job.
            effective = {**inherited, "line": line, "job": job_id, "inherited": True}
        else:
            effective = {**permissions, "job": job_id, "inherited": False}
        self._env(job.get("env"), lines, line, "job", job_id)
        reusable = None
        if isinstance(job.get("uses"), str):
            uses_line = lines.get("uses", (line,))[0]
            reusable = self.item(
                uses_line, **parse_uses(job["uses"]), reusable=True, job=job_id, step=None
            )
            self.uses.append(reusable)
        steps_line, steps_node = lines.get("steps", (line, None))
        step_nodes = items(steps_node)
        steps = [
            self._step(job_id, i, step, step_nodes[i] if i < len(step_nodes) else None, steps_line)
            for i, step in enumerate(job.get("steps") or [])
            if isinstance(step, dict)
        ]
        return self.item(
            line,
            id=job_id,
            name=job.get("name") if isinstance(job.get("name"), str) else None,
            runs_on=job.get("runs-on"),
            permissions=permissions,
            effective_permissions=effective,
            uses=reusable,
            secrets_inherit=job.get("secrets") == "inherit",
            needs=job.get("needs"),
            matrix=_matrix(job.get("strategy")),
            images=self._images(job, lines, line, job_id),
            steps=steps,
        )

    def _images(self, job: dict[Any, Any], lines: Lines, job_line: int, job_id: str) -> list[Item]:
        images: list[Item] = []
        line, node = lines.get("container", (job_line, None))
        if "container" in job:
            images += self._container(job["container"], line, node, job_id, "container")
        services_line, services_node = lines.get("services", (job_line, None))
        service_lines = node_lines(services_node)
        for name, spec in mapping(job.get("services")).items():
            key = key_text(name)
            s_line, s_node = service_lines.get(key, (services_line, None))
            images += self._container(spec, s_line, s_node, job_id, f"services.{key}")
        return images

    def _container(
        self, spec: object, line: int, node: yaml.Node | None, job_id: str, where: str
    ) -> list[Item]:
        if isinstance(spec, str):
            return [self.item(line, image=spec, where=where, job=job_id)]
        if not isinstance(spec, dict):
            return []
        lines = node_lines(node)
        creds = spec.get("credentials")
        if isinstance(creds, dict) and is_literal_secret(creds.get("password")):
            c_line, c_node = lines.get("credentials", (line, None))
            p_line = node_lines(c_node).get("password", (c_line,))[0]
            self.credentials.append(
                self.item(
                    p_line, key="password", where=f"{where}.credentials", job=job_id, step=None
                )
            )
        image = spec.get("image")
        if not isinstance(image, str):
            return []
        return [self.item(lines.get("image", (line,))[0], image=image, where=where, job=job_id)]

    # -- steps

    def _step(
        self, job_id: str, index: int, step: dict[Any, Any], node: yaml.Node | None, default: int
    ) -> Item:
        line = line_at(node, default)
        lines = node_lines(node)
        uses = None
        if isinstance(step.get("uses"), str):
            uses = self.item(
                line, **parse_uses(step["uses"]), reusable=False, job=job_id, step=index
            )
            self.uses.append(uses)
        with_ = self._with(step.get("with"), lines, line, job_id, index)
        run = step.get("run") if isinstance(step.get("run"), str) else None
        found = self._expressions(line, uses, step.get("with"), run)
        untrusted = list(dict.fromkeys(c for e in found for c in e["untrusted"]))
        checkout = _checkout(uses, step.get("with"))
        run_checkout = run is not None and _run_checks_out_pr(run)
        return self.item(
            line,
            index=index,
            job=job_id,
            id=step.get("id") if isinstance(step.get("id"), str) else None,
            name=step.get("name") if isinstance(step.get("name"), str) else None,
            uses=uses,
            **{"with": with_},
            run=run,
            shell=step.get("shell") if isinstance(step.get("shell"), str) else None,
            env=self._env(step.get("env"), lines, line, "step", job_id, index),
            expressions=found,
            untrusted=untrusted,
            checkout=checkout,
            pr_head_checkout=bool(checkout and checkout["pr_head"]) or run_checkout,
        )

    def _with(
        self, value: object, lines: Lines, step_line: int, job_id: str, index: int
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            return {}
        with_line, with_node = lines.get("with", (step_line, None))
        keys = node_lines(with_node)
        shown: dict[str, Any] = {}
        for key, raw in value.items():
            name = key_text(key)
            if is_credential_key(name) and is_literal_secret(raw):
                shown[name] = REDACTED
                line = keys.get(name, (with_line,))[0]
                self.credentials.append(
                    self.item(line, key=name, where="step.with", job=job_id, step=index)
                )
            else:
                shown[name] = raw
        return shown

    def _expressions(
        self, line: int, uses: Item | None, with_: object, run: str | None
    ) -> list[Item]:
        """Expansions in code: a `run` script, or an action input that is evaluated as
        code (actions/github-script's `script`). Each is located at its step."""
        sinks: list[tuple[str, str]] = []
        if run is not None:
            sinks.append(("run", run))
        if uses is not None and isinstance(with_, dict):
            sink = _SCRIPT_SINKS.get((str(uses["owner"]).lower(), str(uses["repo"]).lower()))
            if sink is not None and isinstance(with_.get(sink), str):
                sinks.append((f"with.{sink}", with_[sink]))
        found: list[Item] = []
        for sink, text in sinks:
            for inner, _ in ex.expressions(text):
                read, flow = ex.analyze(inner)
                found.append(
                    self.item(
                        line,
                        expression=inner.strip()[:200],
                        sink=sink,
                        contexts=read,
                        untrusted=[c for c in flow if ex.is_untrusted(c)],
                    )
                )
                if len(found) >= MAX_SCRIPT_EXPRESSIONS:
                    return found
        return found

    # -- secrets anywhere in the file

    def _secrets(self, node: yaml.Node | None) -> list[Item]:
        first: dict[str, int] = {}
        for scalar in _scalars(node):
            text = scalar.value
            if "secrets" not in text or "${{" not in text:
                continue
            for inner, _ in ex.expressions(text):
                for match in ex.regex(_SECRETS_READ).finditer(inner):
                    first.setdefault(match.group(1) or match.group(2), scalar.start_mark.line + 1)
        return [self.item(line, name=name) for name, line in sorted(first.items())]


def _scalars(root: yaml.Node | None) -> Iterator[yaml.ScalarNode]:
    """Every scalar node once (aliases share nodes; the expansion was bounded on load)."""
    if root is None:
        return
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            yield node
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append(value)
                stack.append(key)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _matrix(strategy: object) -> Item | None:
    matrix = mapping(strategy).get("matrix")
    if isinstance(matrix, str):
        return {"expression": True, "keys": []}
    if isinstance(matrix, dict):
        keys = [key_text(k) for k in matrix if k not in ("include", "exclude")]
        return {"expression": False, "keys": keys}
    return None


def _reads_pr_head(value: object) -> bool:
    if not isinstance(value, str):
        return False
    if "refs/pull/" in value:
        return True
    return any(ex.is_pr_head(c) for inner, _ in ex.expressions(value) for c in ex.analyze(inner)[1])


def _checkout(uses: Item | None, with_: object) -> Item | None:
    """actions/checkout's inputs that matter: which code, and whether the token stays."""
    if uses is None or uses["kind"] != "repository":
        return None
    if (str(uses["owner"]).lower(), str(uses["repo"]).lower()) != ("actions", "checkout"):
        return None
    inputs = mapping(with_)
    persist = inputs.get("persist-credentials", True)
    # An expression may well be true; only a literal false keeps the token off disk.
    persisted = not (persist is False or _scalar_text(persist).strip().lower() == "false")
    ref = inputs.get("ref")
    repository = inputs.get("repository")
    return {
        "ref": _scalar_text(ref) if ref is not None else None,
        "repository": _scalar_text(repository) if repository is not None else None,
        "persist_credentials": persisted,
        "pr_head": _reads_pr_head(ref) or _reads_pr_head(repository),
    }


def _run_checks_out_pr(run: str) -> bool:
    """`gh pr checkout`, git on `refs/pull/…`, or git fetching a head context."""
    if ex.regex(_GH_PR_CHECKOUT).search(run):
        return True
    for line in run.split("\n"):
        if ("refs/pull/" in line or "pull/${{" in line) and ex.regex(_GIT).search(line):
            return True
    if not ex.regex(_GIT_FETCH).search(run):
        return False
    return any(ex.is_pr_head(c) for inner, _ in ex.expressions(run) for c in ex.analyze(inner)[1])


# -- files ----------------------------------------------------------------------------


def _document(text: str, path: str, what: str) -> tuple[dict[Any, Any], yaml.Node | None]:
    docs = [d for d in load_documents(text, path) if d.data is not None]
    if not docs:
        return {}, None
    doc = docs[0]
    if not isinstance(doc.data, dict):
        raise ParseError(f"{what} must be a YAML mapping", Located(path, doc.line_of([])))
    return doc.data, doc.node


def parse_workflow(text: str, path: str) -> Item:
    """A `.github/workflows/*.yml` file; ParseError when it is not YAML or not a mapping."""
    data, node = _document(text, path, "a workflow")
    return _Workflow(path, "workflow").workflow(data, node)


def parse_action(text: str, path: str) -> Item:
    """An `action.yml`; a composite action's steps are read as one job named `composite`."""
    data, node = _document(text, path, "an action definition")
    walker = _Workflow(path, "action")
    runs_line, runs_node = node_lines(node).get("runs", (1, None))
    runs = mapping(data.get("runs"))
    using = runs.get("using") if isinstance(runs.get("using"), str) else None
    jobs: list[Item] = []
    if using == "composite":
        job_lines = {"composite": (runs_line, runs_node)}
        none = walker.item(runs_line, kind="none", scopes={}, writes=[])
        jobs.append(walker._job("composite", runs, job_lines, runs_line, none))
    return walker.result(
        data,
        node,
        using=using,
        triggers=[],
        events=[],
        dangerous_triggers=[],
        permissions=None,
        jobs=jobs,
    )
