""".NET: SDK-style project files (*.csproj, *.fsproj, *.vbproj), Directory.Packages.props
(central package management), packages.config, and packages.lock.json.

NuGet package ids are case-insensitive: names are kept in lower case.
"""

from __future__ import annotations

import posixpath

from opsgrade.engine.extractors.manifests_base import (
    Declared,
    Lines,
    Locked,
    Parsed,
    Runtime,
    XmlElement,
    error,
    load_json,
    parse_xml,
    table,
)

_TEST_SDK = "microsoft.net.test.sdk"


def _items(project: XmlElement, tag: str) -> list[XmlElement]:
    return [
        item for group in project.findall("ItemGroup") for item in group.children if item.tag == tag
    ]


def _is_test_project(project: XmlElement, path: str) -> bool:
    stem = posixpath.basename(path).rsplit(".", 1)[0].lower()
    if stem.endswith((".tests", ".test", ".unittests", ".integrationtests")):
        return True
    for group in project.findall("PropertyGroup"):
        flag = group.child_text("IsTestProject")
        if flag and flag.lower() == "true":
            return True
    return any(
        (item.attrs.get("Include") or "").lower() == _TEST_SDK
        for item in _items(project, "PackageReference")
    )


def parse_project(text: str, path: str) -> Parsed:
    project = parse_xml(text, path)
    dev = _is_test_project(project, path)
    declared: list[Declared] = []
    for item in _items(project, "PackageReference"):
        name = item.attrs.get("Include")
        if not name:
            continue  # `Update=` changes an item declared elsewhere
        version = (
            item.attrs.get("Version")
            or item.attrs.get("VersionOverride")
            or item.child_text("Version")
        )
        if version and "$(" in version:
            version = None  # an MSBuild property defined elsewhere
        source = "registry" if version else "managed"
        declared.append(Declared(name.lower(), version, item.line, dev, source))
    runtimes: list[Runtime] = []
    for group in project.findall("PropertyGroup"):
        for tag in ("TargetFramework", "TargetFrameworks"):
            element = group.find(tag)
            if element is None or "$(" in element.text:
                continue
            for framework in (f.strip() for f in element.text.split(";")):
                if framework:
                    runtimes.append(Runtime("dotnet", framework, element.line, tag))
    extra = {"sdk": project.attrs.get("Sdk", "")}
    return Parsed(declared=tuple(declared), runtimes=tuple(runtimes), extra=extra)


def parse_central_packages(text: str, path: str) -> Parsed:
    """Directory.Packages.props: the versions of the projects below it (`extra.central`)."""
    project = parse_xml(text, path)
    central: dict[str, tuple[str, int]] = {}
    for item in _items(project, "PackageVersion"):
        name, version = item.attrs.get("Include"), item.attrs.get("Version")
        if name and version:
            central[name.lower()] = (version, item.line)
    return Parsed(extra={"central": central})


def parse_packages_config(text: str, path: str) -> Parsed:
    root = parse_xml(text, path)
    if root.tag != "packages":
        raise error(path, "expected a <packages> element", root.line)
    declared = [
        Declared(
            item.attrs["id"].lower(),
            item.attrs.get("version"),
            item.line,
            (item.attrs.get("developmentDependency") or "").lower() == "true",
        )
        for item in root.children
        if item.tag == "package" and item.attrs.get("id")
    ]
    return Parsed(declared=tuple(declared))


def parse_packages_lock(text: str, path: str) -> Parsed:
    data = load_json(text, path)
    if not isinstance(data, dict):
        raise error(path, "expected a JSON object")
    lines = Lines(text)
    locked: list[Locked] = []
    seen: set[tuple[str, str]] = set()
    for framework, packages in table(data.get("dependencies")).items():
        start = lines.json_key(framework)
        for name, value in table(packages).items():
            resolved = table(value).get("resolved")
            if not isinstance(resolved, str) or (name.lower(), resolved) in seen:
                continue
            seen.add((name.lower(), resolved))
            locked.append(Locked(name.lower(), resolved, lines.json_key(name, start)))
    return Parsed(locked=tuple(locked))
