"""Version files: the runtime a folder (and the folders below it) runs on.

`.python-version` (pyenv), `.nvmrc` / `.node-version` (nvm, fnm, Volta), `.ruby-version`
(rbenv, chruby), `.go-version` (goenv), `.java-version` (jenv), `.tool-versions` (asdf,
mise), `runtime.txt` (Heroku-style `python-3.11.4`), `rust-toolchain[.toml]` and
`global.json` (the .NET SDK). Each tool looks for its file in the current folder and
then in its parents, so a file above a service's root applies to it too.
"""

from __future__ import annotations

from opsgrade.engine.extractors.manifests_base import (
    Lines,
    Parsed,
    Runtime,
    error,
    load_json,
    load_toml,
    table,
)

# File name -> language, for files that hold one version per line.
SINGLE = {
    ".python-version": "python",
    ".nvmrc": "node",
    ".node-version": "node",
    ".ruby-version": "ruby",
    ".go-version": "go",
    ".java-version": "java",
    "rust-toolchain": "rust",
}
# asdf / mise plugin names -> language
TOOLS = {
    "python": "python",
    "nodejs": "node",
    "node": "node",
    "ruby": "ruby",
    "golang": "go",
    "go": "go",
    "java": "java",
    "dotnet": "dotnet",
    "dotnet-core": "dotnet",
    "rust": "rust",
}
FILES = frozenset({*SINGLE, ".tool-versions", "runtime.txt", "rust-toolchain.toml", "global.json"})
_IGNORED = frozenset({"system", ""})


def _lines(text: str) -> list[tuple[int, str]]:
    return [
        (number, line.split("#", 1)[0].strip())
        for number, line in enumerate(text.split("\n"), 1)
        if line.split("#", 1)[0].strip()
    ]


def parse_version_file(text: str, path: str) -> Parsed:
    name = path.rsplit("/", 1)[-1]
    if name == ".tool-versions":
        return _tool_versions(text)
    if name == "runtime.txt":
        return _runtime_txt(text)
    if name == "rust-toolchain.toml":
        data = load_toml(text, path)
        channel = table(data.get("toolchain")).get("channel")
        if isinstance(channel, str):
            lines = Lines(text)
            line = lines.toml_key("channel", lines.toml_table("toolchain"))
            return Parsed(runtimes=(Runtime("rust", channel, line, name),))
        return Parsed()
    if name == "global.json":
        data = load_json(text, path)
        version = table(table(data).get("sdk")).get("version")
        if isinstance(version, str):
            line = Lines(text).json_key("version", Lines(text).json_key("sdk"))
            return Parsed(runtimes=(Runtime("dotnet", version, line, "global.json sdk"),))
        return Parsed()
    language = SINGLE.get(name)
    if language is None:
        raise error(path, "not a version file")
    runtimes = [
        Runtime(language, version, number, name)
        for number, version in _lines(text)
        if version not in _IGNORED
    ]
    if language != "python":
        runtimes = runtimes[:1]  # pyenv alone reads several versions, one per line
    return Parsed(runtimes=tuple(runtimes))


def _tool_versions(text: str) -> Parsed:
    runtimes: list[Runtime] = []
    for number, line in _lines(text):
        parts = line.split()
        language = TOOLS.get(parts[0]) if parts else None
        if language is None or len(parts) < 2:
            continue
        version = parts[1]
        if version in _IGNORED or version.startswith(("ref:", "path:")):
            continue
        runtimes.append(Runtime(language, version, number, ".tool-versions"))
    return Parsed(runtimes=tuple(runtimes))


def _runtime_txt(text: str) -> Parsed:
    for number, line in _lines(text):
        if line.startswith("python-"):
            return Parsed(
                runtimes=(Runtime("python", line[len("python-") :], number, "runtime.txt"),)
            )
    return Parsed()
