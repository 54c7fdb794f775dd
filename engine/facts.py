"""Facts: what extractors know about a service, computed lazily, once, when a rule asks.

A `Facts` object is the document `facts` checks query with JMESPath. Each top-level key
is produced by one provider (one module per input kind); a key no rule reads is never
computed, so a Dockerfile is parsed only when a Dockerfile rule runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from opsgrade.engine.errors import ConfigError, ParseError
from opsgrade.engine.model import Location, Service
from opsgrade.engine.repoview import RepoView
from opsgrade.engine.services import ServiceFiles


class FactError(Exception):
    """A fact could not be computed (a file that does not parse): the rule is `error`."""

    def __init__(self, message: str, location: Location | None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location


class EvalContext:
    """Everything a check may look at for one service.

    `shared` lives for the whole scan (one dict for all services): extractors keep each
    file's parse there, so a file two services see is parsed once.
    """

    __slots__ = (
        "anchor",
        "descriptor_error",
        "facts",
        "files",
        "service",
        "shared",
        "today",
        "view",
    )

    def __init__(
        self,
        service: Service,
        files: ServiceFiles,
        view: RepoView,
        anchor: Location | None,
        descriptor_error: ConfigError | ParseError | None = None,
        shared: dict[Any, Any] | None = None,
        today: dt.date | None = None,
    ) -> None:
        self.service = service
        self.files = files
        self.view = view
        self.anchor = anchor
        self.descriptor_error = descriptor_error
        self.shared: dict[Any, Any] = shared if shared is not None else {}
        # The date rules are evaluated on (`--today`): facts that age, such as a
        # runtime's end of life, are judged against it, never against the clock.
        self.today = today or dt.date.today()
        self.facts = Facts(self)

    def parsed(self, kind: str, path: str, parse: Callable[[str, str], Any]) -> Any:
        """`parse(text, path)` of a repo file, once per scan; its exceptions are cached too.

        `Unreadable` (binary, oversized) and `FactError` propagate to the caller, who
        decides whether the file is skipped (with the view's note) or the rule errors.
        """
        key = (kind, path)
        if key not in self.shared:
            try:
                self.shared[key] = (True, parse(self.view.read_text(path), path))
            except Exception as exc:  # cached so the next service sees the same failure
                self.shared[key] = (False, exc)
        ok, value = self.shared[key]
        if not ok:
            raise value
        return value

    def attribute(self, key: str) -> Any:
        """A service field for `when` filters; language and framework fall back to what
        the manifests say when the descriptor does not (the `detected` fact)."""
        value = getattr(self.service, key)
        if value is None and key in ("language", "framework"):
            try:
                detected = self.facts.get("detected")
            except FactError:
                return None
            if isinstance(detected, dict):
                return detected.get(key)
        return value


Provider = Callable[[EvalContext], Any]


def _service(ctx: EvalContext) -> Any:
    if ctx.descriptor_error is not None:
        where = ctx.descriptor_error.where
        loc = Location(where.file, max(where.line, 1)) if where else ctx.anchor
        raise FactError(f"descriptor is invalid: {ctx.descriptor_error.keyed_message}", loc)
    return ctx.service.as_facts()


def _files(ctx: EvalContext) -> Any:
    return sorted(ctx.files.visible)


def _repo(ctx: EvalContext) -> Any:
    return {"name": ctx.view.name, "revision": ctx.view.revision}


# Top-level fact keys -> provider, or "module:function" imported on first use, so an
# extractor (and its tree-sitter grammar) loads only when a rule reads its key.
PROVIDERS: dict[str, Provider | str] = {
    "service": _service,
    "files": _files,
    "repo": _repo,
    "dockerfiles": "opsgrade.engine.extractors.dockerfile:dockerfiles",
    "github_workflows": "opsgrade.engine.extractors.ci:github_workflows",
    "gitlab_ci": "opsgrade.engine.extractors.ci:gitlab_ci",
    "circleci": "opsgrade.engine.extractors.ci:circleci",
    "dependency_updates": "opsgrade.engine.extractors.ci:dependency_updates",
    "ci": "opsgrade.engine.extractors.ci:ci_summary",
    "manifests": "opsgrade.engine.extractors.manifests:manifests",
    "dependencies": "opsgrade.engine.extractors.manifests:dependencies",
    "runtimes": "opsgrade.engine.extractors.manifests:runtimes",
    "detected": "opsgrade.engine.extractors.manifests:detected",
    "kubernetes": "opsgrade.engine.extractors.kubernetes:kubernetes",
    "helm": "opsgrade.engine.extractors.kubernetes:helm_charts",
}


def provider(key: str) -> Provider | None:
    entry = PROVIDERS.get(key)
    if isinstance(entry, str):
        import importlib

        module, _, name = entry.partition(":")
        entry = PROVIDERS[key] = getattr(importlib.import_module(module), name)
    return entry


class Facts(dict[str, Any]):
    """A dict whose values appear on first access (JMESPath reads fields with `.get`)."""

    def __init__(self, ctx: EvalContext) -> None:
        super().__init__()
        self._ctx = ctx
        self._errors: dict[str, FactError] = {}

    def get(self, key: str, default: Any = None) -> Any:
        if key in self._errors:
            raise self._errors[key]
        if not super().__contains__(key):
            compute = provider(key)
            if compute is None:
                return default
            try:
                super().__setitem__(key, compute(self._ctx))
            except FactError as exc:
                self._errors[key] = exc
                raise
        return super().__getitem__(key)

    def __getitem__(self, key: str) -> Any:
        if key not in PROVIDERS:
            raise KeyError(key)
        return self.get(key)
