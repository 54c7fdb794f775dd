"""GitLab CI, CircleCI and dependency-update configurations, as plain data with lines."""

from __future__ import annotations

from typing import Any

import yaml

from opsgrade.engine.errors import Located, ParseError
from opsgrade.engine.extractors.ci_expressions import regex
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

# Top-level keys of .gitlab-ci.yml that are settings, not jobs.
GITLAB_KEYWORDS = frozenset(
    {
        "default",
        "include",
        "stages",
        "variables",
        "workflow",
        "image",
        "services",
        "cache",
        "before_script",
        "after_script",
        "types",
        "spec",
    }
)
GITLAB_DEFAULT_STAGES = (".pre", "build", "test", "deploy", ".post")
GITLAB_INCLUDE_KINDS = ("local", "project", "remote", "template", "component")
# GitLab's `!reference [.job, script]` tag has no constructor in a safe loader; the tag
# is blanked (same length, so columns and lines stay) and its list read as plain data.
_REFERENCE_TAG = r"!reference(?=[\s\[])"
_FULL_SEMVER = r"\d+\.\d+\.\d+"


def _mapping_doc(
    text: str, path: str, what: str, skip_header: bool = False
) -> tuple[dict[Any, Any], yaml.Node | None]:
    docs = [d for d in load_documents(text, path) if d.data is not None]
    if skip_header and len(docs) > 1 and isinstance(docs[0].data, dict) and "spec" in docs[0].data:
        docs = docs[1:]  # a `spec:` header (CI/CD component inputs), then the pipeline
    if not docs:
        return {}, None
    if not isinstance(docs[0].data, dict):
        raise ParseError(f"{what} must be a YAML mapping", Located(path, docs[0].line_of([])))
    return docs[0].data, docs[0].node


def _strings(value: object) -> list[str]:
    """A script: a string, or a list of strings and nested lists (from `!reference`)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _image_name(value: object) -> str | None:
    if isinstance(value, str):
        return value
    name = mapping(value).get("name")
    return name if isinstance(name, str) else None


# -- GitLab CI ------------------------------------------------------------------------


def parse_gitlab(text: str, path: str) -> Item:
    """`.gitlab-ci.yml` (or a file it includes): stages, jobs, images and includes."""
    blanked = regex(_REFERENCE_TAG).sub(" " * len("!reference"), text)
    data, node = _mapping_doc(blanked, path, ".gitlab-ci.yml", skip_header=True)
    lines = node_lines(node)
    stages = data.get("stages")
    images: list[Item] = []
    for key in ("image", "services"):
        images += _gitlab_images(data.get(key), path, lines.get(key, (1,))[0], None, key)
    default_line, default_node = lines.get("default", (1, None))
    default_lines = node_lines(default_node)
    for key in ("image", "services"):
        value = mapping(data.get("default")).get(key)
        line = default_lines.get(key, (default_line,))[0]
        images += _gitlab_images(value, path, line, None, f"default.{key}")
    jobs: list[Item] = []
    for key, job in data.items():
        name = key_text(key)
        if name in GITLAB_KEYWORDS or name.startswith(".") or not isinstance(job, dict):
            continue
        line, job_node = lines.get(name, (1, None))
        job_item = _gitlab_job(name, job, path, line, node_lines(job_node))
        images += job_item["images"]
        jobs.append(job_item)
    include_line, include_node = lines.get("include", (1, None))
    return {
        "path": path,
        "line": 1,
        "stages": [str(s) for s in stages] if isinstance(stages, list) else None,
        "jobs": jobs,
        "images": images,
        "include": _gitlab_includes(data.get("include"), path, include_line, include_node),
        "scripts": _strings(data.get("before_script")) + _strings(data.get("after_script")),
    }


def _gitlab_job(name: str, job: dict[Any, Any], path: str, line: int, lines: Lines) -> Item:
    images: list[Item] = []
    for key in ("image", "services"):
        key_line = lines.get(key, (line,))[0]
        images += _gitlab_images(job.get(key), path, key_line, name, key)
    stage = job.get("stage")
    script = []
    for key in ("before_script", "script", "after_script"):
        script += _strings(job.get(key))
    return {
        "path": path,
        "line": line,
        "name": name,
        "stage": str(stage) if stage is not None else "test",
        "extends": job.get("extends"),
        "trigger": job.get("trigger") is not None,
        "script": script,
        "images": images,
    }


def _gitlab_images(value: object, path: str, line: int, job: str | None, where: str) -> list[Item]:
    values = value if isinstance(value, list) else [value] if value is not None else []
    images = []
    for item in values:
        name = _image_name(item)
        if name is not None:
            images.append({"path": path, "line": line, "image": name, "job": job, "where": where})
    return images


def _gitlab_includes(value: object, path: str, line: int, node: yaml.Node | None) -> list[Item]:
    values = value if isinstance(value, list) else [value] if value is not None else []
    nodes = items(node)
    includes: list[Item] = []
    for i, entry in enumerate(values):
        at = line_at(nodes[i] if i < len(nodes) else None, line)
        if isinstance(entry, str):
            kind = "remote" if entry.startswith(("https://", "http://")) else "local"
            includes.append({"path": path, "line": at, "kind": kind, "value": entry})
            continue
        spec = mapping(entry)
        kind = next((k for k in GITLAB_INCLUDE_KINDS if k in spec), "unknown")
        target = spec.get(kind)
        includes.append(
            {
                "path": path,
                "line": at,
                "kind": kind,
                "value": target if isinstance(target, str) else None,
                "ref": spec.get("ref") if isinstance(spec.get("ref"), str) else None,
                "file": spec.get("file"),
            }
        )
    return includes


# -- CircleCI -------------------------------------------------------------------------


def parse_circleci(text: str, path: str) -> Item:
    """`.circleci/config.yml`: jobs, docker images, orbs (and whether each is pinned)."""
    data, node = _mapping_doc(text, path, ".circleci/config.yml")
    lines = node_lines(node)
    images: list[Item] = []
    executors_line, executors_node = lines.get("executors", (1, None))
    executor_lines = node_lines(executors_node)
    for name, spec in mapping(data.get("executors")).items():
        key = key_text(name)
        line, spec_node = executor_lines.get(key, (executors_line, None))
        images += _circle_images(spec, path, line, node_lines(spec_node), executor=key)
    jobs: list[Item] = []
    jobs_line, jobs_node = lines.get("jobs", (1, None))
    job_lines = node_lines(jobs_node)
    for name, spec in mapping(data.get("jobs")).items():
        key = key_text(name)
        line, spec_node = job_lines.get(key, (jobs_line, None))
        job = _circle_job(key, mapping(spec), path, line, spec_node)
        images += job["images"]
        jobs.append(job)
    orbs_line, orbs_node = lines.get("orbs", (1, None))
    version = data.get("version")
    return {
        "path": path,
        "line": 1,
        "version": str(version) if version is not None else None,
        "jobs": jobs,
        "images": images,
        "orbs": _orbs(data.get("orbs"), path, orbs_line, node_lines(orbs_node)),
        "workflows": [key_text(k) for k in mapping(data.get("workflows")) if k != "version"],
    }


def _circle_images(
    spec: object,
    path: str,
    line: int,
    lines: Lines,
    job: str | None = None,
    executor: str | None = None,
) -> list[Item]:
    docker = mapping(spec).get("docker")
    docker_line, docker_node = lines.get("docker", (line, None))
    nodes = items(docker_node)
    images = []
    for i, entry in enumerate(docker if isinstance(docker, list) else []):
        image = entry if isinstance(entry, str) else mapping(entry).get("image")
        if isinstance(image, str):
            at = line_at(nodes[i] if i < len(nodes) else None, docker_line)
            images.append(
                {"path": path, "line": at, "image": image, "job": job, "executor": executor}
            )
    return images


def _circle_job(name: str, spec: dict[Any, Any], path: str, line: int, node: Any) -> Item:
    lines = node_lines(node)
    steps_line, steps_node = lines.get("steps", (line, None))
    nodes = items(steps_node)
    commands: list[Item] = []
    orb_steps: list[Item] = []
    steps = spec.get("steps")
    for i, step in enumerate(steps if isinstance(steps, list) else []):
        at = line_at(nodes[i] if i < len(nodes) else None, steps_line)
        for key, value in step.items() if isinstance(step, dict) else [(step, None)]:
            step_name = key_text(key)
            if step_name == "run":
                command = value if isinstance(value, str) else mapping(value).get("command")
                if isinstance(command, str):
                    commands.append({"path": path, "line": at, "command": command})
            elif "/" in step_name:
                orb_steps.append({"path": path, "line": at, "step": step_name})
    executor = spec.get("executor")
    return {
        "path": path,
        "line": line,
        "name": name,
        "executor": executor if isinstance(executor, str) else mapping(executor).get("name"),
        "images": _circle_images(spec, path, line, lines, job=name),
        "runs": commands,
        "orb_steps": orb_steps,
    }


def _orbs(value: object, path: str, line: int, lines: Lines) -> list[Item]:
    orbs: list[Item] = []
    for alias, ref in mapping(value).items():
        key = key_text(alias)
        at = lines.get(key, (line,))[0]
        if not isinstance(ref, str):
            orbs.append({"path": path, "line": at, "alias": key, "kind": "inline", "pinned": True})
            continue
        name, _, version = ref.partition("@")
        namespace, _, orb = name.partition("/")
        orbs.append(
            {
                "path": path,
                "line": at,
                "alias": key,
                "kind": "registry",
                "orb": ref,
                "namespace": namespace,
                "name": orb,
                "version": version or None,
                "pinned": bool(regex(_FULL_SEMVER).fullmatch(version)),
            }
        )
    return orbs


# -- dependency updates ---------------------------------------------------------------


def parse_dependabot(text: str, path: str) -> Item:
    """`.github/dependabot.yml`: each `updates` entry and its package ecosystem."""
    data, node = _mapping_doc(text, path, "dependabot.yml")
    updates_line, updates_node = node_lines(node).get("updates", (1, None))
    nodes = items(updates_node)
    updates: list[Item] = []
    raw = data.get("updates")
    for i, entry in enumerate(raw if isinstance(raw, list) else []):
        spec = mapping(entry)
        ecosystem = spec.get("package-ecosystem")
        directories = spec.get("directories") or [spec.get("directory")]
        updates.append(
            {
                "path": path,
                "line": line_at(nodes[i] if i < len(nodes) else None, updates_line),
                "ecosystem": str(ecosystem) if ecosystem is not None else None,
                "directories": [str(d) for d in directories if d is not None]
                if isinstance(directories, list)
                else [],
                "interval": mapping(spec.get("schedule")).get("interval"),
            }
        )
    ecosystems = sorted({u["ecosystem"] for u in updates if u["ecosystem"]})
    return {
        "tool": "dependabot",
        "path": path,
        "line": 1,
        "enabled": bool(updates),
        "ecosystems": ecosystems,
        "updates": updates,
    }


def parse_renovate(text: str, path: str) -> Item | None:
    """A Renovate config file, or package.json's `renovate` key (None without one).

    Renovate reads JSON5 too, so a file that is not strict JSON still configures it;
    what it says is then not known (`valid: false`)."""
    import json

    item: Item = {"tool": "renovate", "path": path, "line": 1, "enabled": True, "extends": []}
    try:
        data = json.loads(text)
    except ValueError:
        return None if path.endswith("package.json") else {**item, "valid": False}
    if path.endswith("package.json"):
        if not isinstance(data, dict) or "renovate" not in data:
            return None
        data = data["renovate"]
    config = mapping(data)
    extends = config.get("extends")
    return {
        **item,
        "enabled": config.get("enabled", True) is not False,
        "extends": [str(e) for e in extends] if isinstance(extends, list) else [],
        "valid": isinstance(data, dict),
    }
