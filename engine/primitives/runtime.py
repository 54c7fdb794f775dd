"""The `runtime` check: the language runtime a service declares, and how new it is.

```yaml
check: {runtime: {language: ruby, declared: true}}
check: {runtime: {language: ruby, at_least: "3.2"}}   # "move every Ruby service to 3.2"
```

Declarations are the `runtimes` fact: version files (`.python-version`, `.nvmrc`,
`.ruby-version`, `.tool-versions`...), in the service or in a folder above it, and
manifest fields (`requires-python`, `engines.node`, go.mod's `go`, Gemfile `ruby`,
pom.xml `maven.compiler.release`/`java.version`, Gradle toolchains, `<TargetFramework>`).

- `declared: true` passes when at least one declaration for the language exists
  (`false`: when none does).
- `at_least: "3.2"` passes when EVERY declaration for the language admits nothing older:
  a pinned version is compared as is, a range by the lowest version it admits
  (`requires-python = ">=3.9"` is 3.9), both as dotted numbers. A floating declaration
  (`lts/*`, `stable`) is always current and passes; one that cannot be read as a
  version (`jruby-9.4`) fails. A service that declares no runtime for the language
  passes when it has no manifest of that ecosystem either (it does not use the
  language); otherwise it fails, since nothing shows which version it runs on.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from opsgrade.engine import specs, versions
from opsgrade.engine.checks import MAX_LOCATIONS, Check, Outcome, Site
from opsgrade.engine.facts import EvalContext
from opsgrade.engine.model import Location

_DOTTED = re.compile(r"^\d+(?:\.\d+){0,3}$")


def _where(runtime: dict[str, Any]) -> Location:
    return Location(runtime["path"], max(int(runtime.get("line") or 1), 1))


def _spelled(runtime: dict[str, Any]) -> str:
    return f"{runtime['language']} {runtime['version']} ({runtime['source']})"


class RuntimeCheck(msgspec.Struct, frozen=True):
    language: str
    declared: bool | None
    at_least: str | None
    minimum: tuple[int, ...] | None

    def evaluate(self, ctx: EvalContext) -> Outcome:
        found = [r for r in ctx.facts.get("runtimes") or [] if r.get("language") == self.language]
        if self.declared is not None:
            return self._declared(ctx, found)
        return self._at_least(ctx, found)

    def _declared(self, ctx: EvalContext, found: list[dict[str, Any]]) -> Outcome:
        if found:
            evidence = tuple(_where(r) for r in found[:MAX_LOCATIONS])
            message = f"declares {_spelled(found[0])}"
            negated = f"{message}, expected no {self.language} version declared"
            return Outcome(self.declared is True, message, evidence, negated)
        message = f"no {self.language} version is declared"
        if self.declared:
            return Outcome(False, message, _anchor(ctx, self.language))
        return Outcome(True, message, negated=f"{message}, expected one")

    def _at_least(self, ctx: EvalContext, found: list[dict[str, Any]]) -> Outcome:
        assert self.minimum is not None
        wanted = f"{self.language} >= {self.at_least}"
        if not found:
            if not _uses(ctx, self.language):
                return Outcome(
                    True, f"does not use {self.language}", negated=f"does not use {self.language}"
                )
            message = f"no {self.language} version is declared; cannot show {wanted}"
            return Outcome(False, message, _anchor(ctx, self.language))
        failing: list[tuple[dict[str, Any], str]] = []
        for runtime in found:
            if runtime.get("floating"):
                continue
            lowest = runtime.get("min")
            if not lowest:
                failing.append((runtime, f"{_spelled(runtime)} is not a version to compare"))
            elif versions.runtime_key(str(lowest)) < self.minimum:
                failing.append(
                    (runtime, f"{_spelled(runtime)} admits {lowest}, below {self.at_least}")
                )
        if failing:
            more = f" (and {len(failing) - 1} more)" if len(failing) > 1 else ""
            locs = tuple(_where(r) for r, _ in failing[:MAX_LOCATIONS])
            return Outcome(False, failing[0][1] + more, locs)
        evidence = tuple(_where(r) for r in found[:MAX_LOCATIONS])
        message = f"every declared {self.language} version is >= {self.at_least}"
        return Outcome(True, message, evidence, negated=f"{message}, expected an older one")


def _uses(ctx: EvalContext, language: str) -> bool:
    from opsgrade.engine.extractors.manifests import entries

    return any(entry.kind.ecosystem == language for entry in entries(ctx))


def _anchor(ctx: EvalContext, language: str) -> tuple[Location, ...]:
    from opsgrade.engine.extractors.manifests import entries

    for entry in entries(ctx):
        if entry.kind.ecosystem == language and not entry.kind.lockfile:
            return (Location(entry.path, 1),)
    return (ctx.anchor,) if ctx.anchor else ()


def compile_check(spec: specs.RuntimeCheck, site: Site) -> Check:
    minimum = None
    if spec.at_least is not None:
        if not _DOTTED.match(spec.at_least.strip()):
            raise site.error(
                f'`at_least` is a dotted version number such as "3.2", not {spec.at_least!r}',
                "at_least",
            )
        minimum = versions.runtime_key(spec.at_least)
    return RuntimeCheck(spec.language, spec.declared, spec.at_least, minimum)
