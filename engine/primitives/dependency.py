"""The `dependency` check: a package among the service's dependencies, and its version.

```yaml
check: {dependency: {name: requests, ecosystem: python, version: ">=2.31"}}
check: {dependency: {name: org.apache.logging.log4j:log4j-core, ecosystem: java,
                     version: "[2.17.1,)"}}
check: {dependency: {name: left-pad, present: false}}
```

What counts as a dependency: every package the `dependencies` fact lists, that is each
one a manifest of the service declares (package.json, pyproject.toml, go.mod, pom.xml,
...) and each one its lockfiles resolve, direct or transitive. Dev dependencies count
unless `include_dev: false`. Names are matched the way the ecosystem does (PEP 503
normalization for Python, case-insensitive NuGet ids); a Maven/Gradle package is
`groupId:artifactId`.

Which version is compared with `version`: the LOCKED version when a lockfile (or
go.mod, or a fully pinned requirements file) resolves one; otherwise the lowest version
the declared spec admits (the pin of `==1.2.3`, 1.2 for `^1.2`, `~=1.2` or `>=1.2`).
A dependency whose version is not known (no lockfile, and a spec like `*` or none)
fails: nothing shows that it satisfies the constraint. Every occurrence must satisfy it
(a package locked at two versions is checked at both); failures point at the manifest
or lockfile line of each occurrence that does not.

`version` is written in the ecosystem's own syntax (see engine/versions.py) and needs
`ecosystem`; a constraint that does not parse is an error in the pack, at its line.
"""

from __future__ import annotations

from typing import Any

import msgspec

from opsgrade.engine import specs, versions
from opsgrade.engine.checks import MAX_LOCATIONS, Check, Outcome, Site
from opsgrade.engine.facts import EvalContext
from opsgrade.engine.model import Location


def normalize(ecosystem: str, name: str) -> str:
    """A package name as the `dependencies` fact spells it for that ecosystem."""
    if ecosystem == "python":
        from opsgrade.engine.extractors.manifests_python import canonical

        return canonical(name)
    if ecosystem == "dotnet":
        return name.lower()
    return name


def _where(dep: dict[str, Any]) -> Location:
    return Location(dep["path"], max(int(dep.get("line") or 1), 1))


def _describe(dep: dict[str, Any]) -> str:
    if dep.get("locked"):
        return f"{dep['name']} {dep['locked']}"
    if dep.get("spec"):
        return f"{dep['name']} {dep['spec']}"
    return str(dep["name"])


class DependencyCheck(msgspec.Struct, frozen=True):
    name: str
    ecosystem: str | None
    present: bool
    version: str | None
    constraint: Any  # versions.Constraint | None
    include_dev: bool

    def _matches(self, dep: dict[str, Any]) -> bool:
        ecosystem = dep.get("ecosystem")
        if not isinstance(ecosystem, str) or (self.ecosystem and ecosystem != self.ecosystem):
            return False
        if dep.get("dev") and not self.include_dev:
            return False
        return bool(dep.get("name") == normalize(ecosystem, self.name))

    def evaluate(self, ctx: EvalContext) -> Outcome:
        found = [d for d in ctx.facts.get("dependencies") or [] if self._matches(d)]
        what = f"{self.ecosystem} package {self.name}" if self.ecosystem else self.name
        if not self.present:
            if found:
                locs = tuple(_where(d) for d in found[:MAX_LOCATIONS])
                return Outcome(False, f"depends on {_describe(found[0])}", locs)
            return Outcome(True, f"no dependency on {what}", negated=f"no dependency on {what}")
        if not found:
            return Outcome(False, f"no dependency on {what}", _manifest_anchor(ctx, self.ecosystem))
        if self.constraint is None:
            evidence = tuple(_where(d) for d in found[:MAX_LOCATIONS])
            return Outcome(
                True,
                f"depends on {_describe(found[0])}",
                evidence,
                negated=f"depends on {_describe(found[0])}, expected no dependency on it",
            )
        return self._versions(found)

    def _versions(self, found: list[dict[str, Any]]) -> Outcome:
        failing: list[tuple[dict[str, Any], str]] = []
        satisfied: list[tuple[dict[str, Any], str]] = []
        for dep in found:
            version = dep.get("locked") or versions.lowest(dep["ecosystem"], dep.get("spec"))
            if not version:
                spelled = (
                    f"declared as {dep['spec']!r}"
                    if dep.get("spec")
                    else "declared without a version"
                )
                failing.append((dep, f"{dep['name']} is {spelled} and no lockfile pins it"))
                continue
            try:
                ok = versions.allows(self.constraint, version)
            except versions.VersionError:
                ok = False
            line = f"{dep['name']} {version}"
            (satisfied if ok else failing).append((dep, line))
        if failing:
            first = failing[0][1]
            if not first.endswith("pins it"):
                first = f"{first} does not satisfy {self.version}"
            more = f" (and {len(failing) - 1} more)" if len(failing) > 1 else ""
            locs = tuple(_where(d) for d, _ in failing[:MAX_LOCATIONS])
            return Outcome(False, first + more, locs)
        dep, line = satisfied[0]
        message = f"{line} satisfies {self.version}"
        return Outcome(
            True,
            message,
            tuple(_where(d) for d, _ in satisfied[:MAX_LOCATIONS]),
            negated=f"{message}, expected it not to",
        )


def _manifest_anchor(ctx: EvalContext, ecosystem: str | None) -> tuple[Location, ...]:
    """Where a missing dependency belongs: the first manifest of the ecosystem."""
    from opsgrade.engine.extractors.manifests import entries

    for entry in entries(ctx):
        if not entry.kind.lockfile and (ecosystem is None or entry.kind.ecosystem == ecosystem):
            return (Location(entry.path, 1),)
    return (ctx.anchor,) if ctx.anchor else ()


def compile_check(spec: specs.DependencyCheck, site: Site) -> Check:
    if spec.ecosystem == "java" and ":" not in spec.name:
        raise site.error("a Java package is named `groupId:artifactId`", "name")
    constraint = None
    if spec.version is not None:
        if spec.ecosystem is None:
            raise site.error(
                "`version` needs `ecosystem`: a constraint is written in one ecosystem's syntax",
                "version",
            )
        try:
            constraint = versions.constraint(spec.ecosystem, spec.version)
        except versions.VersionError as exc:
            raise site.error(str(exc), "version") from None
    return DependencyCheck(
        name=spec.name,
        ecosystem=spec.ecosystem,
        present=spec.present,
        version=spec.version,
        constraint=constraint,
        include_dev=spec.include_dev,
    )
