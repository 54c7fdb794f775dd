"""Kubernetes manifests and Helm charts, as facts.

`kubernetes`: one entry per workload object (Deployment, StatefulSet, DaemonSet,
ReplicaSet, Job, CronJob, Pod) found in the service's YAML files, each with its
containers and what they declare:

```
{api_version, kind, name, namespace, path, line, templated, patch,
 containers: [{name, image, path, line, liveness_probe, readiness_probe, startup_probe,
               resources: {requests: {cpu, memory}, limits: {cpu, memory}}}],
 init_containers: [...same shape...]}
```

Probe keys are booleans (declared or not); resource values are the quantities as
written (`"250m"`, `"128Mi"`) or null. A file is read as manifests only when its text
has `apiVersion` and a top-level `kind:` line naming a workload kind or `List`;
multi-document files and `kind: List` are read. Other YAML (descriptors, CI config, a
`kind: Service`) is not parsed here, so it never makes these facts fail.

Templates are not rendered. A file inside a Helm chart's `templates/` folder, or one
holding `{{`, is `templated`: when it parses, its workloads are listed with
`templated: true` (their values may be template text); when it does not, each
workload `kind:` it names is listed with `templated: true` and no containers. A
strategic-merge patch that a kustomization lists is marked `patch: true` (it holds
only the fields it changes). Rules about complete workloads skip both.

`helm`: one entry per chart (`Chart.yaml`): `{name, version, app_version, api_version,
type, path, line, templates, workloads, probes: {liveness, readiness}, resources}`:
`templates` counts the files in its `templates/` folder, `workloads` the workload
`kind:` lines in them, and the hints say whether a template or `values.yaml` mentions
`livenessProbe`, `readinessProbe` and `resources`.

Any other YAML file that does not parse makes the fact an error located at that file,
so the rules that read it are `error`, not silently passing.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
from collections.abc import Iterator, Mapping
from typing import Any

from opsgrade.engine.errors import ParseError
from opsgrade.engine.facts import EvalContext, FactError
from opsgrade.engine.globs import GlobSet
from opsgrade.engine.model import Location
from opsgrade.engine.repoview import Unreadable
from opsgrade.engine.yamlio import YamlDocument, load_document, load_documents

MAX_FILES = 2000  # YAML files read per service; a generated monorepo may hold more
MAX_DEPTH = 20  # how deep values.yaml is searched for probe and resource keys

# Workload kind -> the keys from the object to its pod spec.
POD_SPEC: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}

_YAML = GlobSet(["**/*.yaml", "**/*.yml"])
_CHARTS = GlobSet(["**/Chart.yaml", "**/Chart.yml"])
_KUSTOMIZATIONS = GlobSet(["**/kustomization.yaml", "**/kustomization.yml", "**/Kustomization"])
_KIND_LINE = re.compile(r"^kind:\s*[\"']?([A-Za-z]+)", re.M)
_PARSE_KEY = "yaml:documents"


def _documents(ctx: EvalContext, path: str) -> list[YamlDocument]:
    result: list[YamlDocument] = ctx.parsed(_PARSE_KEY, path, load_documents)
    return result


def _string(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def _get(data: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _quantities(value: Any) -> dict[str, str | None]:
    found = value if isinstance(value, dict) else {}
    return {"cpu": _string(found.get("cpu")), "memory": _string(found.get("memory"))}


def _container(
    doc: YamlDocument, keys: tuple[str | int, ...], data: Mapping[str, Any]
) -> dict[str, Any]:
    resources = data.get("resources")
    resources = resources if isinstance(resources, dict) else {}
    return {
        "name": _string(data.get("name")),
        "image": _string(data.get("image")),
        "path": doc.path,
        "line": doc.line_of(keys),
        "liveness_probe": bool(data.get("livenessProbe")),
        "readiness_probe": bool(data.get("readinessProbe")),
        "startup_probe": bool(data.get("startupProbe")),
        "resources": {
            "requests": _quantities(resources.get("requests")),
            "limits": _quantities(resources.get("limits")),
        },
    }


def _containers(
    doc: YamlDocument, keys: tuple[str | int, ...], pod_spec: Any, field: str
) -> list[dict[str, Any]]:
    items = pod_spec.get(field) if isinstance(pod_spec, dict) else None
    if not isinstance(items, list):
        return []
    return [
        _container(doc, (*keys, field, i), item)
        for i, item in enumerate(items)
        if isinstance(item, dict)
    ]


def _objects(doc: YamlDocument) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """(key path, object) for the document, or for each item of a `kind: List`."""
    data = doc.data
    if not isinstance(data, dict):
        return
    items = data.get("items")
    if data.get("kind") == "List" and isinstance(items, list):
        for i, item in enumerate(items):
            if isinstance(item, dict):
                yield ("items", i), item
        return
    yield (), data


def _workload(
    doc: YamlDocument, keys: tuple[str | int, ...], obj: dict[str, Any], templated: bool
) -> dict[str, Any] | None:
    kind = obj.get("kind")
    if not isinstance(obj.get("apiVersion"), str) or not isinstance(kind, str):
        return None
    spec_keys = POD_SPEC.get(kind)
    if spec_keys is None:
        return None
    pod_spec = _get(obj, spec_keys)
    pod_keys = (*keys, *spec_keys)
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    return {
        "api_version": obj["apiVersion"],
        "kind": kind,
        "name": _string(metadata.get("name")),
        "namespace": _string(metadata.get("namespace")),
        "path": doc.path,
        "line": doc.line_of(keys) if keys else doc.line_of(("kind",)),
        "templated": templated,
        "patch": False,
        "containers": _containers(doc, pod_keys, pod_spec, "containers"),
        "init_containers": _containers(doc, pod_keys, pod_spec, "initContainers"),
    }


def _unparsed_template(path: str, text: str) -> list[dict[str, Any]]:
    """The workloads a template that is not YAML names, by its `kind:` lines."""
    found: list[dict[str, Any]] = []
    for match in _KIND_LINE.finditer(text):
        if match.group(1) in POD_SPEC:
            found.append(
                {
                    "api_version": None,
                    "kind": match.group(1),
                    "name": None,
                    "namespace": None,
                    "path": path,
                    "line": text.count("\n", 0, match.start()) + 1,
                    "templated": True,
                    "patch": False,
                    "containers": [],
                    "init_containers": [],
                }
            )
    return found


def _names_workload(text: str) -> bool:
    """A top-level `kind:` line naming a workload (or a `List` that may hold some)."""
    if "apiVersion" not in text:
        return False
    return any(m.group(1) in POD_SPEC or m.group(1) == "List" for m in _KIND_LINE.finditer(text))


def _chart_dirs(ctx: EvalContext) -> list[str]:
    return [posixpath.dirname(p) for p in ctx.files.match(_CHARTS)]


def _in_templates(path: str, charts: list[str]) -> bool:
    return any(path.startswith(f"{c}/templates/" if c else "templates/") for c in charts)


def _patches(ctx: EvalContext) -> set[str]:
    """Repo paths of the strategic-merge patches kustomizations list."""
    found: set[str] = set()
    for path in ctx.files.match(_KUSTOMIZATIONS):
        try:
            docs = _documents(ctx, path)
        except (Unreadable, ParseError):
            continue  # a broken kustomization only loses the patch marks
        data = docs[0].data if docs else None
        if not isinstance(data, dict):
            continue
        listed = data.get("patchesStrategicMerge")
        entries = [e for e in listed if isinstance(e, str)] if isinstance(listed, list) else []
        patches = data.get("patches")
        if isinstance(patches, list):
            entries += [p["path"] for p in patches if isinstance(p, dict) and "path" in p]
        folder = posixpath.dirname(path)
        found.update(posixpath.normpath(posixpath.join(folder, str(e))) for e in entries)
    return found


def kubernetes(ctx: EvalContext) -> list[dict[str, Any]]:
    charts = _chart_dirs(ctx)
    patches = _patches(ctx)
    workloads: list[dict[str, Any]] = []
    for path in ctx.files.match(_YAML)[:MAX_FILES]:
        try:
            text = ctx.view.read_text(path)
        except Unreadable:
            continue  # the view notes why
        if not _names_workload(text):
            continue  # a descriptor, CI config, Service...: not parsed, so never an error
        templated = "{{" in text or _in_templates(path, charts)
        try:
            docs = _documents(ctx, path)
        except ParseError as exc:
            if templated:
                workloads.extend(_unparsed_template(path, text))
                continue
            line = exc.where.line if exc.where else 1
            raise FactError(f"{path}: {exc.message}", Location(path, max(line, 1))) from None
        for doc in docs:
            for keys, obj in _objects(doc):
                found = _workload(doc, keys, obj, templated)
                if found is not None:
                    found["patch"] = path in patches
                    workloads.append(found)
    return workloads


# -- Helm -----------------------------------------------------------------------------------


def _mentions(data: Any, keys: frozenset[str], depth: int = 0) -> set[str]:
    """Which of `keys` appear, with a non-empty value, anywhere in `data`."""
    found: set[str] = set()
    if depth > MAX_DEPTH:
        return found
    if isinstance(data, dict):
        for key, value in data.items():
            if key in keys and value:
                found.add(key)
            found |= _mentions(value, keys, depth + 1)
    elif isinstance(data, list):
        for item in data:
            found |= _mentions(item, keys, depth + 1)
    return found


_HINTS = frozenset({"livenessProbe", "readinessProbe", "resources"})


def _chart(ctx: EvalContext, chart_file: str) -> dict[str, Any]:
    try:
        doc = load_document(ctx.view.read_text(chart_file), chart_file)
    except Unreadable as exc:
        raise FactError(f"{chart_file}: {exc.reason}", Location(chart_file, 1)) from None
    except ParseError as exc:
        line = exc.where.line if exc.where else 1
        raise FactError(
            f"{chart_file}: {exc.message}", Location(chart_file, max(line, 1))
        ) from None
    data = doc.data if isinstance(doc.data, dict) else {}
    folder = posixpath.dirname(chart_file)
    prefix = f"{folder}/" if folder else ""
    templates = [
        p
        for p in ctx.files.visible.values()
        if p.startswith(f"{prefix}templates/") and p.endswith((".yaml", ".yml", ".tpl"))
    ]
    hints: set[str] = set()
    workloads = 0
    for path in sorted(templates)[:MAX_FILES]:
        try:
            text = ctx.view.read_text(path)
        except Unreadable:
            continue
        hints.update(h for h in _HINTS if f"{h}:" in text)
        workloads += sum(1 for m in _KIND_LINE.finditer(text) if m.group(1) in POD_SPEC)
    for name in ("values.yaml", "values.yml"):
        values = f"{prefix}{name}"
        if values in ctx.files.visible.values():
            # Hints only: a broken values file is Helm's error to report, not ours.
            with contextlib.suppress(Unreadable, ParseError):
                hints |= _mentions(load_document(ctx.view.read_text(values), values).data, _HINTS)
    return {
        "name": _string(data.get("name")),
        "version": _string(data.get("version")),
        "app_version": _string(data.get("appVersion")),
        "api_version": _string(data.get("apiVersion")),
        "path": chart_file,
        "line": 1,
        "type": _string(data.get("type")) or "application",
        "templates": len(templates),
        "workloads": workloads,
        "probes": {
            "liveness": "livenessProbe" in hints,
            "readiness": "readinessProbe" in hints,
        },
        "resources": "resources" in hints,
    }


def helm_charts(ctx: EvalContext) -> list[dict[str, Any]]:
    return [_chart(ctx, path) for path in ctx.files.match(_CHARTS)]
