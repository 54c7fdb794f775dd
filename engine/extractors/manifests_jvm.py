"""JVM: pom.xml (Maven), build.gradle / build.gradle.kts, gradle/libs.versions.toml and
gradle.lockfile.

pom.xml is parsed with the DTD refused (manifests_base.parse_xml), so an entity bomb is
a located error, not a hang. `${property}` versions are resolved from the pom's own
properties; a version that stays unresolved, or that a parent or BOM manages, is
recorded with `source: managed` and no spec. Gradle build scripts are programs; their
dependency declarations are read with regular expressions for the notations Gradle
documents (`"g:a:v"`, `group: "g", name: "a", version: "v"`), as Dependabot does.
"""

from __future__ import annotations

import re
from typing import Any

from opsgrade.engine.extractors.manifests_base import (
    Declared,
    Lines,
    Locked,
    Parsed,
    Runtime,
    XmlElement,
    load_toml,
    parse_xml,
    table,
)

_PROPERTY = re.compile(r"\$\{([^}]+)\}")
_DEV_SCOPES = frozenset({"test"})
_RUNTIME_PROPERTIES = ("maven.compiler.release", "java.version", "maven.compiler.source")


def _resolve(value: str | None, props: dict[str, str]) -> str | None:
    if value is None:
        return None
    for _ in range(5):  # properties may refer to properties; bounded
        if "${" not in value:
            return value
        value = _PROPERTY.sub(lambda m: props.get(m.group(1), m.group(0)), value)
    return None if "${" in value else value


def _properties(project: XmlElement) -> dict[str, str]:
    props: dict[str, str] = {}
    for holder in project.findall("properties"):
        for prop in holder.children:
            props[prop.tag] = prop.text
    version = project.child_text("version")
    parent = project.find("parent")
    parent_version = parent.child_text("version") if parent is not None else None
    if version or parent_version:
        props["project.version"] = version or parent_version or ""
    if parent_version:
        props["project.parent.version"] = parent_version
    return props


def parse_pom(text: str, path: str) -> Parsed:
    project = parse_xml(text, path)
    props = _properties(project)
    managed: dict[str, str] = {}
    for dep in project.findall("dependencyManagement", "dependencies", "dependency"):
        name = f"{dep.child_text('groupId')}:{dep.child_text('artifactId')}"
        version = _resolve(dep.child_text("version"), props)
        if version:
            managed[name] = version
    declared: list[Declared] = []
    for dep in project.findall("dependencies", "dependency"):
        group, artifact = dep.child_text("groupId"), dep.child_text("artifactId")
        if not group or not artifact:
            continue
        name = f"{_resolve(group, props) or group}:{artifact}"
        written = dep.child_text("version")
        version = _resolve(written, props) if written else managed.get(name)
        scope = dep.child_text("scope") or "compile"
        source = "registry" if version else "managed"
        declared.append(Declared(name, version, dep.line, scope in _DEV_SCOPES, source))
    parent = project.find("parent")
    extra: dict[str, Any] = {}
    if parent is not None:
        extra["parent"] = f"{parent.child_text('groupId')}:{parent.child_text('artifactId')}"
    return Parsed(
        declared=tuple(declared), runtimes=tuple(_pom_runtimes(project, props)), extra=extra
    )


def _pom_runtimes(project: XmlElement, props: dict[str, str]) -> list[Runtime]:
    for holder in project.findall("properties"):
        for key in _RUNTIME_PROPERTIES:
            element = holder.find(key)
            value = _resolve(element.text, props) if element is not None else None
            if element is not None and value:
                return [Runtime("java", value, element.line, key)]
    for plugin in project.findall("build", "plugins", "plugin"):
        if plugin.child_text("artifactId") != "maven-compiler-plugin":
            continue
        config = plugin.find("configuration")
        for key in ("release", "source"):
            element = config.find(key) if config is not None else None
            value = _resolve(element.text, props) if element is not None else None
            if element is not None and value:
                return [Runtime("java", value, element.line, f"maven-compiler-plugin {key}")]
    return []


# -- Gradle ---------------------------------------------------------------------------------

_CONFIGURATION = (
    r"(implementation|api|compileOnly|runtimeOnly|compileOnlyApi|annotationProcessor|kapt|ksp"
    r"|compile|runtime|developmentOnly|testFixturesImplementation|testFixturesApi"
    r"|\w*[tT]est\w*(?:Implementation|CompileOnly|RuntimeOnly|Compile|Runtime|AnnotationProcessor))"
)
_STRING_NOTATION = re.compile(
    r"\b"
    + _CONFIGURATION
    + r"""\s*\(?\s*(?:(?:enforcedP|p)latform\s*\(\s*)?"""
    + r"""(["'])([^"'\s:]+):([^"'\s:]+)(?::([^"'\s@:]+))?[^"']*\2"""
)
_MAP_NOTATION = re.compile(
    r"\b"
    + _CONFIGURATION
    + r"""\s*\(?\s*group\s*[:=]\s*["']([^"']+)["']\s*,\s*name\s*[:=]\s*["']([^"']+)["']"""
    + r"""(?:\s*,\s*version\s*[:=]\s*["']([^"']+)["'])?"""
)
_ASSIGNMENT = re.compile(r"""^\s*(?:(?:val|var|def|ext\.)\s*)?([\w.]+)\s*=\s*["']([^"'$]+)["']""")
_VARIABLE = re.compile(r"\$\{?([\w.]+)\}?")
_GRADLE_RUNTIMES = (
    (re.compile(r"JavaLanguageVersion\.of\(\s*(\d+)\s*\)"), "java toolchain languageVersion"),
    (re.compile(r"jvmToolchain\(\s*(\d+)\s*\)"), "jvmToolchain"),
    (
        re.compile(
            r"""sourceCompatibility\s*=\s*(?:JavaVersion\.VERSION_)?["']?(\d+(?:[._]\d+)?)"""
        ),
        "sourceCompatibility",
    ),
    (re.compile(r"""\brelease(?:\.set\(\s*|\s*=\s*)(\d+)"""), "compileJava release"),
)


def _dev_configuration(name: str) -> bool:
    return "test" in name.lower() or name == "developmentOnly"


def parse_gradle(text: str, path: str) -> Parsed:
    variables: dict[str, str] = {}
    declared: list[Declared] = []
    runtimes: list[Runtime] = []
    for number, raw in enumerate(text.split("\n"), 1):
        code = raw.split("//", 1)[0] if not raw.lstrip().startswith("//") else ""
        if not code.strip():
            continue
        assigned = _ASSIGNMENT.match(code)
        if assigned:
            variables[assigned.group(1).rsplit(".", 1)[-1]] = assigned.group(2)
        for found in _STRING_NOTATION.finditer(code):
            config, _, group, artifact, version = found.groups()
            declared.append(_gradle_dep(config, group, artifact, version, number, variables))
        for found in _MAP_NOTATION.finditer(code):
            config, group, artifact, version = found.groups()
            declared.append(_gradle_dep(config, group, artifact, version, number, variables))
        for pattern, source in _GRADLE_RUNTIMES:
            match = pattern.search(code)
            if match and not runtimes:
                runtimes.append(Runtime("java", match.group(1).replace("_", "."), number, source))
    return Parsed(declared=tuple(declared), runtimes=tuple(runtimes))


def _gradle_dep(
    config: str,
    group: str,
    artifact: str,
    version: str | None,
    line: int,
    variables: dict[str, str],
) -> Declared:
    if version and "$" in version:
        version = _VARIABLE.sub(
            lambda m: variables.get(m.group(1).rsplit(".", 1)[-1], "$"), version
        )
        if "$" in version:
            version = None
    source = "registry" if version else "managed"
    return Declared(f"{group}:{artifact}", version, line, _dev_configuration(config), source)


def parse_version_catalog(text: str, path: str) -> Parsed:
    """gradle/libs.versions.toml: `[libraries]` with their `[versions]`."""
    data = load_toml(text, path)
    lines = Lines(text)
    versions = {k: v for k, v in table(data.get("versions")).items() if isinstance(v, str)}
    header = lines.toml_table("libraries")
    declared: list[Declared] = []
    for alias, value in table(data.get("libraries")).items():
        name, version = _catalog_entry(value, versions)
        if name is None:
            continue
        line = lines.toml_key(alias, header) if header else 1
        declared.append(Declared(name, version, line, False, "registry" if version else "managed"))
    return Parsed(declared=tuple(declared))


def _catalog_entry(value: Any, versions: dict[str, str]) -> tuple[str | None, str | None]:
    if isinstance(value, str):
        parts = value.split(":")
        return (
            (":".join(parts[:2]), parts[2] if len(parts) > 2 else None)
            if len(parts) >= 2
            else (None, None)
        )
    item = table(value)
    module = item.get("module")
    if not isinstance(module, str):
        group, name = item.get("group"), item.get("name")
        module = f"{group}:{name}" if isinstance(group, str) and isinstance(name, str) else None
    version = item.get("version")
    if isinstance(version, dict):
        ref = version.get("ref")
        version = (
            versions.get(ref)
            if isinstance(ref, str)
            else (version.get("strictly") or version.get("require") or version.get("prefer"))
        )
    return module, version if isinstance(version, str) else None


def parse_gradle_lockfile(text: str, path: str) -> Parsed:
    locked: list[Locked] = []
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith("empty="):
            continue
        coordinates, _, configurations = line.partition("=")
        parts = coordinates.split(":")
        if len(parts) != 3:
            continue
        configs = [c for c in configurations.split(",") if c]
        dev = bool(configs) and all("test" in c.lower() for c in configs)
        locked.append(Locked(f"{parts[0]}:{parts[1]}", parts[2], number, dev))
    return Parsed(locked=tuple(locked))
