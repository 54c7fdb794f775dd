"""Facts: what extractors know about a service, computed lazily, once, when a rule asks.

A `Facts` object is the document `facts` checks query with JMESPath. Each top-level key
is produced by one provider (one module per input kind); a key no rule reads is never
computed, so a Dockerfile is parsed only when a Dockerfile rule runs.
"""

from __future__ import annotations

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
    """Everything a check may look at for one service."""

    __slots__ = ("anchor", "descriptor_error", "facts", "files", "service", "view")

    def __init__(
        self,
        service: Service,
        files: ServiceFiles,
        view: RepoView,
        anchor: Location | None,
        descriptor_error: ConfigError | ParseError | None = None,
    ) -> None:
        self.service = service
        self.files = files
        self.view = view
        self.anchor = anchor
        self.descriptor_error = descriptor_error
        self.facts = Facts(self)


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


# Top-level fact keys -> provider. Extractor modules add their keys here.
PROVIDERS: dict[str, Provider] = {
    "service": _service,
    "files": _files,
    "repo": _repo,
}


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
            provider = PROVIDERS.get(key)
            if provider is None:
                return default
            try:
                super().__setitem__(key, provider(self._ctx))
            except FactError as exc:
                self._errors[key] = exc
                raise
        return super().__getitem__(key)

    def __getitem__(self, key: str) -> Any:
        if key not in PROVIDERS:
            raise KeyError(key)
        return self.get(key)
