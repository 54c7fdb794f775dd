"""Dockerfile facts: stages, instructions and what their RUN commands do, as plain data.

Provider of the `dockerfiles` fact key: one record per Dockerfile the service sees
(`Dockerfile`, `*.Dockerfile`, `Dockerfile.*`, `Containerfile`, in any folder). Each
file is parsed once per scan with tree-sitter-containerfile; the shell of each RUN is
parsed with tree-sitter-bash, so quoting, `&&` chains, pipelines, `$(...)` and
`bash -c '...'` are read the way a shell reads them rather than by regex.

Every item carries `path` and `line` (the instruction's first line, which is what
hadolint reports and where an inline `# opsgrade: ignore[...]` comment goes), so a
query that returns items locates its findings. A file that does not parse still
yields what tree-sitter recovered, plus located `problems`.

Secret-looking ENV/ARG values are never stored: the record names the variable and says
whether it has a value, and the instruction's argument text has the value redacted.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from opsgrade.engine.facts import EvalContext
from opsgrade.engine.globs import GlobSet
from opsgrade.engine.repoview import Unreadable

if TYPE_CHECKING:
    import tree_sitter

Item = dict[str, Any]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


GLOBS = (
    "**/Dockerfile",
    "**/*.Dockerfile",
    "**/*.dockerfile",
    "**/Dockerfile.*",
    "**/Containerfile",
    "**/Containerfile.*",
    "**/*.Containerfile",
)
# `Dockerfile.*` also names files that sit beside a Dockerfile without being one:
# BuildKit's per-Dockerfile ignore file, notes, backups, and templates that become a
# Dockerfile only once rendered.
NOT_DOCKERFILE_SUFFIXES = tuple(
    _words(".dockerignore .md .rst .txt .orig .bak .swp .j2 .jinja .jinja2 .tmpl .tpl")
    | {".template", ".in"}
)
_MATCHER = GlobSet(GLOBS)

REDACTED = "<redacted>"
MAX_SHELL_DEPTH = 3  # `bash -c "sh -c '...'"` nesting we follow
MAX_PROBLEMS = 100
# Bounds for untrusted input. Real Dockerfiles are a few kilobytes and a RUN's shell a
# few hundred bytes, but tree-sitter's error recovery can take seconds and hundreds of
# megabytes on a crafted 20 KB shell line (`a | b | c && ` repeated). So: files over
# MAX_DOCKERFILE_BYTES and shell scripts over MAX_SCRIPT_BYTES are not parsed, and
# every parse is cancelled once tree-sitter has reported progress more than
# PARSE_STEPS_BASE + bytes / PARSE_STEPS_PER_BYTE times, within a budget of
# PARSE_STEPS_PER_FILE per file. Counting progress reports rather than seconds keeps
# the outcome the same on every machine. Normal input uses about one report per
# 100 bytes. Each cancelled parse is a located problem.
MAX_DOCKERFILE_BYTES = 256 * 1024
MAX_SCRIPT_BYTES = 16 * 1024
PARSE_STEPS_BASE = 1000
PARSE_STEPS_PER_BYTE = 20  # one allowed step per this many bytes
PARSE_STEPS_PER_FILE = 5_000
PARSE_CHUNK = 64 * 1024
MAX_WORD = 4096  # a longer shell word (a deeply nested `$(...)`) is not copied out

SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox"})
FETCHERS = frozenset({"curl", "wget"})
# Commands that run text a command substitution hands them.
SUBSTITUTION_RUNNERS = SHELLS | {"eval", "source", "."}
# Commands that run another command given as their arguments.
WRAPPERS = frozenset({"sudo", "doas", "env", "nice", "nohup", "time", "command", "exec"})
_WRAPPER_VALUE_OPTIONS = {
    "sudo": _words("-u -g -C -D -h -p -r -t -U -T --user --group"),
    "doas": frozenset({"-u", "-C"}),
    "env": frozenset({"-u", "--unset", "-C", "--chdir", "-S", "--split-string"}),
    "nice": frozenset({"-n", "--adjustment"}),
}
ROOT_USERS = frozenset({"root", "0"})
INSTRUCTIONS = _words(
    "ADD ARG CMD COPY ENTRYPOINT ENV EXPOSE FROM HEALTHCHECK LABEL MAINTAINER "
    "ONBUILD RUN SHELL STOPSIGNAL USER VOLUME WORKDIR"
)

# Docker's own secret check (BuildKit SecretsUsedInArgOrEnv) matches these as whole
# `_`-separated words; we also split camelCase and allow words that name a file, a
# public key or an identifier rather than hold the secret itself.
SECRET_WORDS = _words(
    "apikey auth credential credentials key passphrase password passwd pword pass pwd secret token"
)
SECRET_SUBSTRINGS = ("password", "passwd", "secret", "apikey", "privatekey", "accesskey")
SECRET_ALLOW_WORDS = frozenset(
    {"public", "file", "path", "dir", "version", "id", "name", "url", "host", "port", "gpg"}
    | {"sock", "socket", "type", "method"}
)
# Shell variables that match a secret word but hold none: the working directory.
SECRET_ALLOW_NAMES = frozenset({"PWD", "OLDPWD"})

# Environment variables that turn certificate verification off: with any value, or
# with one of the listed values.
_TLS_ENV: dict[str, frozenset[str] | None] = {
    "GIT_SSL_NO_VERIFY": None,
    "PIP_TRUSTED_HOST": None,
    "CURL_INSECURE": None,
    "NODE_TLS_REJECT_UNAUTHORIZED": frozenset({"0"}),
    "PYTHONHTTPSVERIFY": frozenset({"0"}),
    "NPM_CONFIG_STRICT_SSL": frozenset({"false", "0"}),
    "YARN_STRICT_SSL": frozenset({"false", "0"}),
}
_FALSE = frozenset({"false", "0", "no", "off"})

# curl short options that take a value: in a cluster like `-fsSLo`, the rest is the value.
_CURL_VALUE_LETTERS = frozenset("AbcCdDeEFHKmoPQrtTuUwxXYyz")

# Regexes are kept as text: `re` compiles and caches each on first use, so a scan of a
# repository without a Dockerfile does not pay for compiling them at import.
_VAR = (
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-+])(?P<word>[^}]*))?\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)
_DIRECTIVE = r"^#\s*(?P<key>(?i:syntax|escape|check))\s*=\s*(?P<value>\S*)\s*$"
_WORD_SPLIT = r"[_\-.]+|(?<=[a-z0-9])(?=[A-Z])"
# What ADD unpacks (tar, optionally compressed); a .zip it copies as it is.
_TAR_SUFFIXES = tuple(_words(".tar .tar.gz .tgz .tar.bz2 .tbz2 .tbz .tar.xz .txz .tar.zst .tzst"))

_parsers: dict[str, tree_sitter.Parser] = {}


def _parser(language: str) -> tree_sitter.Parser:
    found = _parsers.get(language)
    if found is None:
        from opsgrade.engine.treesitter import parser

        found = _parsers[language] = parser(language)
    return found


def _bounded_parse(language: str, source: bytes, state: _Parse) -> tree_sitter.Tree | None:
    """The tree, or None when the parse used up its share of the file's step budget."""
    parser = _parser(language)
    limit = min(state.parse_steps, PARSE_STEPS_BASE + len(source) // PARSE_STEPS_PER_BYTE)
    steps = 0

    def progress(_offset: int, _has_error: bool) -> bool:
        nonlocal steps
        steps += 1
        return steps > limit  # True cancels the parse

    def read(offset: int, _point: tuple[int, int]) -> bytes:
        return source[offset : offset + PARSE_CHUNK]

    try:
        tree = parser.parse(read, progress_callback=progress)
    except ValueError:  # cancelled
        parser.reset()  # else the next parse would resume this one
        tree = None
    state.parse_steps -= min(steps, limit)
    return tree


# -- provider ---------------------------------------------------------------------------


def is_dockerfile(path: str) -> bool:
    name = posixpath.basename(path)
    return _MATCHER.match(path) and not name.lower().endswith(NOT_DOCKERFILE_SUFFIXES)


def dockerfiles(ctx: EvalContext) -> list[Item]:
    """One record per Dockerfile the service sees; unreadable files are skipped (noted)."""
    found: list[Item] = []
    for path in ctx.files.match(_MATCHER):
        if not is_dockerfile(path):
            continue
        try:
            found.append(ctx.parsed("dockerfile", path, parse_dockerfile))
        except Unreadable:
            continue  # binary or oversized: the view notes it
    return found


# -- small helpers ------------------------------------------------------------------------


def _text(node: tree_sitter.Node, source: bytes) -> str:
    return source[node.start_byte : node.end_byte].decode("utf-8", errors="replace")


def _walk(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    """Every node below `node`, depth first, without recursion (trees can be deep)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def substitute(
    text: str, scope: dict[str, str | None], keep_unknown: bool = False
) -> tuple[str, bool]:
    """Expand `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR:+alt}` the way BuildKit does.

    Returns (text, resolved): `resolved` is False when a variable had no known value
    (declared without default, or not declared), so callers do not judge a guess. Such
    a variable expands to "" as in a build without `--build-arg`, or stays as written
    with `keep_unknown`.
    """
    resolved = True

    def expand(match: re.Match[str]) -> str:
        nonlocal resolved
        name = match.group("braced") or match.group("plain")
        value = scope.get(name)
        op, word = match.group("op"), match.group("word") or ""
        if op in (":-", "-"):
            use_default = value is None or (op == ":-" and value == "")
            return word if use_default else str(value)
        if op in (":+", "+"):
            is_set = value is not None and (op == "+" or value != "")
            return word if is_set else ""
        if value is None:
            resolved = False
            return match.group(0) if keep_unknown else ""
        return value

    return re.sub(_VAR, expand, text), resolved


def split_image(reference: str) -> Item:
    """`registry/name:tag@digest` into its parts (a missing part is None)."""
    rest, _, digest = reference.partition("@")
    slash, colon = rest.rfind("/"), rest.rfind(":")
    tag: str | None = None
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
    registry: str | None = None
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, rest = first, remainder
    return {"registry": registry, "name": rest, "tag": tag, "digest": digest or None}


def is_secret_name(name: str) -> bool:
    if name.upper() in SECRET_ALLOW_NAMES:
        return False
    words = [w.lower() for w in re.split(_WORD_SPLIT, name) if w]
    if any(w in SECRET_ALLOW_WORDS for w in words):
        return False
    if any(w in SECRET_WORDS for w in words):
        return True
    squashed = "".join(words)
    return any(s in squashed for s in SECRET_SUBSTRINGS)


# -- the parse ------------------------------------------------------------------------------


class _Stage:
    """What is known while reading one stage; becomes the stage's record."""

    def __init__(self, record: Item, scope: dict[str, str | None]) -> None:
        self.record = record
        self.scope = scope
        self.user: Item | None = None
        self.healthcheck: Item | None = None
        self.posix_shell = True  # SHELL ["pwsh", ...] makes RUN text not sh


class _Parse:
    """One Dockerfile's facts, filled in instruction by instruction."""

    def __init__(self, path: str, source: bytes) -> None:
        self.path = path
        self.source = source
        self.global_args: dict[str, str | None] = {}
        self.stages: list[_Stage] = []
        self.aliases: dict[str, int] = {}
        self.parse_steps = PARSE_STEPS_PER_FILE
        self.out: Item = {
            "path": path,
            "line": 1,
            "directives": {},
            "stages": [],
            "instructions": [],
            "user": None,
            "healthcheck": None,
            "exposes": [],
            "adds": [],
            "workdirs": [],
            "maintainers": [],
            "packages": [],
            "package_commands": [],
            "apt_lists": [],
            "sudo": [],
            "pipe_to_shell": [],
            "tls_disabled": [],
            "secrets": [],
            "problems": [],
        }

    # -- bookkeeping

    def item(self, line: int, **fields: Any) -> Item:
        return {"path": self.path, "line": line, **fields}

    def problem(self, line: int, message: str) -> None:
        problems: list[Item] = self.out["problems"]
        if len(problems) < MAX_PROBLEMS:
            problems.append(self.item(line, message=message))

    @property
    def stage(self) -> _Stage | None:
        return self.stages[-1] if self.stages else None

    def scope(self) -> dict[str, str | None]:
        return self.stage.scope if self.stage else self.global_args


def parse_dockerfile(text: str, path: str) -> Item:
    """The facts of one Dockerfile's text (the `ctx.parsed` parse function)."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    state = _Parse(path, b"")
    _read_directives(text, state)
    if state.out["directives"].get("escape") == "`":
        # tree-sitter knows only `\` continuations; a backtick before a newline is one.
        text = text.replace("`\n", "\\\n")
    source = text.encode("utf-8", errors="replace")
    state.source = source
    if len(source) > MAX_DOCKERFILE_BYTES:
        state.problem(1, f"larger than {MAX_DOCKERFILE_BYTES // 1024} KiB; not parsed")
        return state.out
    tree = _bounded_parse("dockerfile", source, state)
    if tree is None:
        state.problem(1, "too complex to parse within the parse limit; not read")
        return state.out
    for node in tree.root_node.children:
        _top_level(node, state)
    _finish(state)
    return state.out


def _read_directives(text: str, state: _Parse) -> None:
    """Parser directives (`# syntax=`, `# escape=`): leading comment lines only."""
    for raw in text.split("\n", 20)[:20]:
        found = re.match(_DIRECTIVE, raw.strip())
        if found is None:
            break
        state.out["directives"][found.group("key").lower()] = found.group("value")


def _top_level(node: tree_sitter.Node, state: _Parse) -> None:
    line = node.start_point.row + 1
    if node.type == "comment":
        return
    if node.type == "ERROR" or node.is_missing:
        state.problem(line, _error_message(node, state.source))
        return
    if not node.type.endswith("_instruction"):
        return
    if node.has_error:
        keyword = _keyword(node, state.source)
        state.problem(line, f"malformed {keyword} instruction")
    _instruction(node, state)


def _error_message(node: tree_sitter.Node, source: bytes) -> str:
    # The text is echoed only when it is an instruction keyword: anything else on a
    # line that does not parse may be a secret pasted in the wrong place.
    first = _text(node, source).strip().split(None, 1)
    word = first[0].upper() if first else ""
    if word in INSTRUCTIONS:
        return f"malformed {word} instruction"
    return "not a Dockerfile instruction (unknown keyword, or a line that lost its `\\`)"


def _keyword(node: tree_sitter.Node, source: bytes) -> str:
    first = node.children[0] if node.children else None
    if first is not None and not first.is_named:
        return _text(first, source).upper()
    return node.type.removesuffix("_instruction").upper()


def _arguments(node: tree_sitter.Node, source: bytes) -> str:
    """The instruction's text after its keyword, continuations joined, heredoc bodies cut."""
    children = node.children
    start = children[0].end_byte if children else node.start_byte
    end = node.end_byte
    for child in children:
        if child.type == "heredoc_block":
            end = min(end, child.start_byte)
    text = source[start:end].decode("utf-8", errors="replace")
    return _logical_line(text).strip()


def _logical_line(text: str) -> str:
    """Join `\\`-continued lines the way Docker does, dropping comment and blank lines."""
    out: list[str] = []
    for i, raw in enumerate(text.split("\n")):
        stripped = raw.strip()
        if i > 0 and (stripped.startswith("#") or not stripped):
            continue  # Docker drops these inside a continued instruction
        out.append(stripped.removesuffix("\\").strip())
    return " ".join(out)


def _options(node: tree_sitter.Node, source: bytes) -> list[str]:
    return [_text(c, source) for c in node.children if c.type in ("param", "mount_param")]


def _instruction(node: tree_sitter.Node, state: _Parse) -> None:
    source = state.source
    keyword = _keyword(node, source)
    line = node.start_point.row + 1
    record = state.item(
        line,
        end_line=node.end_point.row + 1,
        stage=state.stage.record["index"] if state.stage else None,
        keyword=keyword,
        arguments=_arguments(node, source),
        options=_options(node, source),
        heredoc=any(c.type == "heredoc_block" for c in node.children),
    )
    if state.stage is None and keyword not in ("FROM", "ARG"):
        state.problem(line, f"{keyword} before the first FROM")
    handler = _HANDLERS.get(keyword)
    if handler is not None:
        handler(node, record, state)
    state.out["instructions"].append(record)


# -- instructions ------------------------------------------------------------------------------


def _from(node: tree_sitter.Node, record: Item, state: _Parse) -> None:
    source = state.source
    spec = next((c for c in node.children if c.type == "image_spec"), None)
    alias_node = next((c for c in node.children if c.type == "image_alias"), None)
    image = _text(spec, source) if spec is not None else ""
    # Only ARGs declared before the first FROM are in scope here (Dockerfile reference).
    resolved, known = substitute(image, state.global_args, keep_unknown=True)
    parts = split_image(resolved)
    alias = _text(alias_node, source) if alias_node is not None else None
    platform = next(
        (o.split("=", 1)[1] for o in record["options"] if o.startswith("--platform=")), None
    )
    parent = state.aliases.get(resolved.lower()) if known else None
    index = len(state.stages)
    stage_record: Item = state.item(
        record["line"],
        index=index,
        alias=alias,
        image=image,
        reference=resolved if known else None,
        **parts,
        platform=platform,
        scratch=known and resolved == "scratch",
        from_stage=parent is not None,
        parent=parent,
        unresolved=not known,
        final=False,
        final_image=False,
        user=None,
        healthcheck=None,
    )
    stage = _Stage(stage_record, {})
    if parent is not None:
        inherited = state.stages[parent]
        stage.scope = dict(inherited.scope)
        stage.user, stage.healthcheck = inherited.user, inherited.healthcheck
        stage.posix_shell = inherited.posix_shell
    if not image:
        state.problem(record["line"], "FROM without an image")
    state.stages.append(stage)
    record["stage"] = index
    if alias:
        state.aliases[alias.lower()] = index


def _pairs(node: tree_sitter.Node, source: bytes, kind: str) -> list[tuple[str, str | None]]:
    """(name, value) of ENV/ARG/LABEL pairs; the legacy `ENV NAME value` form too."""
    pairs: list[tuple[str, str | None]] = []
    for child in node.children:
        if child.type != kind:
            continue
        named = [c for c in child.children if c.is_named]
        has_equals = any(c.type == "=" for c in child.children)
        if not named:
            continue
        name = _unquote(_text(named[0], source))
        if len(named) > 1:
            value: str | None = _unquote(_logical_line(_text(named[1], source)))
        else:
            value = "" if has_equals else None
        pairs.append((name, value))
    return pairs


def _redact(arguments: str, secrets: list[str]) -> str:
    """Arguments text with the values of secret-looking variables replaced."""
    for name in secrets:
        pattern = re.compile(
            rf"(?<![A-Za-z0-9_]){re.escape(name)}(\s*=\s*|\s+)"
            r"(\"(?:[^\"\\]|\\.)*\"|'[^']*'|(?:[^\s\\]|\\.)+)"
        )
        arguments = pattern.sub(lambda m: m.group(0)[: -len(m.group(2))] + REDACTED, arguments)
    return arguments


def _variables(node: tree_sitter.Node, record: Item, state: _Parse) -> None:
    keyword = record["keyword"]
    pairs = _pairs(node, state.source, "env_pair" if keyword == "ENV" else "arg_pair")
    secret_names: list[str] = []
    scope = state.scope()
    for name, value in pairs:
        if keyword == "ARG" and state.stage is None:
            known = substitute(value, state.global_args)[0] if value is not None else None
            state.global_args[name] = known
        elif keyword == "ARG":
            scope[name] = value if value is not None else state.global_args.get(name)
        else:
            scope[name] = value
        if is_secret_name(name):
            secret_names.append(name)
            state.out["secrets"].append(
                state.item(record["line"], name=name, instruction=keyword, has_value=bool(value))
            )
        elif value is not None:
            _tls_env(name, value, record["line"], state)
    if secret_names:
        record["arguments"] = _redact(record["arguments"], secret_names)


def _tls_env(name: str, value: str, line: int, state: _Parse) -> None:
    name = name.upper()
    if name not in _TLS_ENV or not value:
        return
    values = _TLS_ENV[name]
    if values is None or value.lower() in values:
        state.out["tls_disabled"].append(state.item(line, tool="env", setting=name))


def _user(node: tree_sitter.Node, record: Item, state: _Parse) -> None:
    raw = _unquote(record["arguments"])
    value, known = substitute(raw, state.scope())
    user, _, group = value.partition(":")
    entry = state.item(
        record["line"],
        user=user if known else raw.partition(":")[0],
        group=group or None,
        root=known and user.strip() in ROOT_USERS,
    )
    if state.stage is not None:
        state.stage.user = entry


def _healthcheck(node: tree_sitter.Node, record: Item, state: _Parse) -> None:
    none = any(c.type == "NONE" for c in node.children)
    if state.stage is not None:
        state.stage.healthcheck = state.item(record["line"], none=none)


def _expose(node: tree_sitter.Node, record: Item, state: _Parse) -> None:
    for child in node.children:
        if child.type != "expose_port":
            continue
        raw = _text(child, state.source)
        value, known = substitute(raw, state.scope())
        port, _, proto = (value if known else raw).partition("/")
        state.out["exposes"].append(
            state.item(record["line"], port=port, protocol=(proto or "tcp").lower(), raw=raw)
        )


def _workdir(node: tree_sitter.Node, record: Item, state: _Parse) -> None:
    directory = _unquote(record["arguments"])
    # A variable may hold an absolute path; hadolint (DL3000) gives it the benefit too.
    absolute = directory.startswith(("/", "$")) or re.match(r"^[A-Za-z]:[\\/]", directory)
    state.out["workdirs"].append(
        state.item(record["line"], directory=directory, absolute=bool(absolute))
    )


def _maintainer(node: tree_sitter.Node, record: Item, state: _Parse) -> None:
    state.out["maintainers"].append(state.item(record["line"]))


def _add(node: tree_sitter.Node, record: Item, state: _Parse) -> None:
    paths = [_unquote(_text(c, state.source)) for c in node.children if c.type == "path"]
    sources = paths[:-1] if len(paths) > 1 else paths
    if not paths:
        array = next((c for c in node.children if c.type == "json_string_array"), None)
        values = _json_array(_text(array, state.source)) if array is not None else None
        sources = (values or [])[:-1]
    url = any(re.match(r"^[a-z][a-z0-9+.-]*://", s, re.I) for s in sources)
    git = any(s.startswith("git@") or s.endswith(".git") for s in sources)
    archive = any(s.lower().endswith(_TAR_SUFFIXES) for s in sources)
    state.out["adds"].append(
        state.item(
            record["line"],
            sources=sources,
            url=url,
            git=git,
            archive=archive,
            heredoc=record["heredoc"],
        )
    )


def _json_array(text: str) -> list[str] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _exec_form(node: tree_sitter.Node, record: Item, state: _Parse) -> list[str] | None:
    array = next((c for c in node.children if c.type == "json_string_array"), None)
    argv = _json_array(_text(array, state.source)) if array is not None else None
    record["form"] = "exec" if argv is not None else "shell"
    return argv


def _cmd(node: tree_sitter.Node, record: Item, state: _Parse) -> None:
    _exec_form(node, record, state)


def _shell(node: tree_sitter.Node, record: Item, state: _Parse) -> None:
    array = next((c for c in node.children if c.type == "json_string_array"), None)
    argv = _json_array(_text(array, state.source)) if array is not None else None
    if state.stage is not None and argv:
        state.stage.posix_shell = posixpath.basename(argv[0]) in SHELLS


def _run(node: tree_sitter.Node, record: Item, state: _Parse) -> None:
    argv = _exec_form(node, record, state)
    if state.stage is not None and not state.stage.posix_shell and argv is None:
        return  # SHELL switched to PowerShell or cmd: not sh syntax
    scripts = [shlex.join(argv)] if argv is not None else _run_scripts(node, record, state.source)
    shell = _ShellFacts(state, record)
    for script in scripts:
        shell.analyze(script, 0)
    shell.finish()


def _run_scripts(node: tree_sitter.Node, record: Item, source: bytes) -> list[str]:
    """The shell text a RUN executes: its command line, and heredoc bodies it runs as sh."""
    command = next((c for c in node.children if c.type == "shell_command"), None)
    line = _logical_line(_text(command, source)) if command is not None else ""
    bodies = [
        _text(content, source)
        for block in node.children
        if block.type == "heredoc_block"
        for content in block.children
        if content.type == "heredoc_content"
    ]
    if not bodies:
        return [line]
    # `RUN <<EOT` (or `RUN bash <<EOT`) runs the body as a script; `RUN python3 <<EOF`
    # feeds it to another program, so only the command line is shell.
    words = re.sub(r"<<-?\s*[\"']?\w+[\"']?", " ", line).split()
    if not words or posixpath.basename(words[0]) in SHELLS:
        return bodies
    return [line]


# -- shell analysis ------------------------------------------------------------------------


class _Command:
    """One simple command after unwrapping `sudo`/`env`...: name and argument words."""

    __slots__ = ("args", "name", "sudo")

    def __init__(self, name: str, args: list[str], sudo: bool) -> None:
        self.name = name
        self.args = args
        self.sudo = sudo


def _word(node: tree_sitter.Node, source: bytes) -> str:
    """A shell word's value as far as it is static: quotes removed, expansions kept."""
    kind = node.type
    if node.end_byte - node.start_byte > MAX_WORD:
        return ""
    text = _text(node, source)
    if kind == "word":
        return re.sub(r"\\(.)", r"\1", text) if "\\" in text else text
    if kind == "raw_string":
        return text[1:-1]
    if kind == "ansi_c_string":
        return text[2:-1]
    if kind == "string":
        return text[1:-1] if len(text) >= 2 else text
    if kind == "concatenation":
        return "".join(_word(c, source) for c in node.children)
    return text


def _unwrap(name: str, args: list[str]) -> tuple[str, list[str], bool]:
    """`sudo -u x env A=1 apt-get install y` -> ("apt-get", ["install", "y"], True)."""
    sudo = False
    for _ in range(8):
        base = posixpath.basename(name)
        if base not in WRAPPERS:
            return base, args, sudo
        sudo = sudo or base in ("sudo", "doas")
        takes_value = _WRAPPER_VALUE_OPTIONS.get(base, frozenset())
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                i += 1
                break
            if arg in takes_value:
                i += 2
                continue
            if arg.startswith("-") or (base == "env" and "=" in arg):
                i += 1
                continue
            break
        if i >= len(args):
            return base, [], sudo
        name, args = args[i], args[i + 1 :]
    return posixpath.basename(name), args, sudo


def _node_command(node: tree_sitter.Node, source: bytes) -> _Command | None:
    name_node = node.child_by_field_name("name")
    if name_node is None:
        return None
    name = _word(name_node.children[0], source) if name_node.children else ""
    args = [_word(a, source) for a in node.children_by_field_name("argument")]
    base, rest, sudo = _unwrap(name, args)
    return _Command(base, rest, sudo)


def _lead_command(node: tree_sitter.Node, source: bytes) -> str | None:
    """The name of the command a pipeline part or statement starts with.

    Looks a few levels down only (into a subshell or group), so that nested input costs
    time linear in its size.
    """
    current: tree_sitter.Node | None = node
    for _ in range(4):
        if current is None:
            return None
        if current.type == "command":
            command = _node_command(current, source)
            return command.name if command is not None else None
        current = current.named_children[0] if current.named_children else None
    return None


def _statements(node: tree_sitter.Node) -> list[tree_sitter.Node]:
    """The statements directly inside a substitution, pipelines and lists opened."""
    out: list[tree_sitter.Node] = []
    for child in node.named_children:
        if child.type in ("pipeline", "list"):
            out.extend(child.named_children)
        else:
            out.append(child)
    return out


def _is_python(name: str) -> bool:
    return re.fullmatch(r"python[0-9.]*", name) is not None


class _ShellFacts:
    """Facts from the shell text of one RUN instruction."""

    def __init__(self, state: _Parse, record: Item) -> None:
        self.state = state
        self.line: int = record["line"]
        self.record = record
        self.apt = {"updates": False, "installs": False, "removed": False}
        self.cache_mount = any(
            o.startswith("--mount=") and "type=cache" in o and "/var/lib/apt" in o
            for o in record["options"]
        )

    def item(self, **fields: Any) -> Item:
        return self.state.item(self.line, **fields)

    def analyze(self, script: str, depth: int) -> None:
        source = script.encode("utf-8", errors="replace")
        tree = None
        if len(source) <= MAX_SCRIPT_BYTES:
            tree = _bounded_parse("bash", source, self.state)
        if tree is None:
            self.state.problem(
                self.line, f"{self.record['keyword']}: shell too long or complex to read"
            )
            return
        for node in _walk(tree.root_node):
            if node.type == "command":
                command = _node_command(node, source)
                if command is not None:
                    self.command(command, source, depth)
            elif node.type == "pipeline":
                self.pipeline(node, source)
            elif node.type in ("command_substitution", "process_substitution"):
                self.substitution(node, source)
            elif node.type == "variable_assignment":
                self.assignment(node, source)

    def finish(self) -> None:
        apt = self.apt
        if apt["updates"] or apt["installs"]:
            stage = self.state.stage
            self.state.out["apt_lists"].append(
                self.item(
                    stage=stage.record["index"] if stage else None,
                    updates=apt["updates"],
                    installs=apt["installs"],
                    removed=apt["removed"] or self.cache_mount,
                )
            )

    # -- per node

    def assignment(self, node: tree_sitter.Node, source: bytes) -> None:
        name_node = node.child_by_field_name("name")
        value_node = node.child_by_field_name("value")
        if name_node is None:
            return
        value = _word(value_node, source) if value_node is not None else ""
        _tls_env(_text(name_node, source), value, self.line, self.state)

    def pipeline(self, node: tree_sitter.Node, source: bytes) -> None:
        fetched = ""
        for part in node.named_children:
            name = _lead_command(part, source)
            if fetched and name in SHELLS:
                self.state.out["pipe_to_shell"].append(self.item(fetcher=fetched, shell=name))
                return
            fetched = fetched or (name if name in FETCHERS else "")

    def substitution(self, node: tree_sitter.Node, source: bytes) -> None:
        """`bash -c "$(curl ...)"`, `sh <(wget ...)`, `eval "$(curl ...)"`: run a download."""
        inner = [_lead_command(child, source) for child in _statements(node)]
        fetcher = next((n for n in inner if n in FETCHERS), None)
        if fetcher is None:
            return
        runner = node.parent
        for _ in range(3):  # the argument may be a string or concatenation in the command
            if runner is None or runner.type == "command":
                break
            runner = runner.parent
        command = _node_command(runner, source) if runner is not None else None
        if command is not None and command.name in SUBSTITUTION_RUNNERS:
            self.state.out["pipe_to_shell"].append(self.item(fetcher=fetcher, shell=command.name))

    def command(self, command: _Command, source: bytes, depth: int) -> None:
        name, args = command.name, command.args
        if command.sudo:
            self.state.out["sudo"].append(self.item())
        if name in SHELLS:
            self.shell(args, depth)
        elif name == "curl":
            self.curl(args)
        elif name == "wget" and "--no-check-certificate" in args:
            self.tls("wget", "--no-check-certificate")
        elif name == "git":
            self.git(args)
        elif name in ("apt-get", "apt"):
            self.apt_get(name, args)
        elif name == "apk":
            self.manager("apk", args, _apk_packages)
        elif name in ("pip", "pip3") or re.fullmatch(r"pip[0-9.]+", name):
            self.pip(args)
        elif _is_python(name) and args[:2] == ["-m", "pip"]:
            self.pip(args[2:])
        elif name in ("npm", "yarn", "pnpm"):
            self.npm(name, args)
        elif name == "gem":
            self.manager("gem", args, _gem_packages)
        elif name == "go":
            self.manager("go", args, _go_packages)
        elif name == "rm" and any(a.startswith("/var/lib/apt/lists") for a in args):
            self.apt["removed"] = True

    def shell(self, args: list[str], depth: int) -> None:
        """`sh -c 'script'`: the script is shell too (nested a few levels at most)."""
        if "-c" in args and depth < MAX_SHELL_DEPTH:
            at = args.index("-c")
            if at + 1 < len(args):
                self.analyze(args[at + 1], depth + 1)

    def tls(self, tool: str, setting: str) -> None:
        self.state.out["tls_disabled"].append(self.item(tool=tool, setting=setting))

    def curl(self, args: list[str]) -> None:
        skip = False
        for arg in args:
            if skip:
                skip = False
                continue
            if arg == "--insecure":
                self.tls("curl", "--insecure")
                return
            if arg.startswith("-") and not arg.startswith("--") and len(arg) > 1:
                for i, letter in enumerate(arg[1:]):
                    if letter == "k":
                        self.tls("curl", "-k")
                        return
                    if letter in _CURL_VALUE_LETTERS:
                        skip = i == len(arg) - 2  # the value is the next argument
                        break

    def git(self, args: list[str]) -> None:
        for i, arg in enumerate(args):
            setting = arg
            if arg == "-c" and i + 1 < len(args):
                setting = args[i + 1]
            key, _, value = setting.partition("=")
            if key.lower() == "http.sslverify" and value.lower() in _FALSE:
                self.tls("git", "http.sslVerify=false")
                return
            following = args[i + 1].lower() if i + 1 < len(args) else ""
            if arg.lower() == "http.sslverify" and following in _FALSE:
                self.tls("git", "http.sslVerify false")
                return

    def record_command(self, manager: str, action: str | None) -> None:
        self.state.out["package_commands"].append(self.item(manager=manager, action=action))

    def manager(self, manager: str, args: list[str], packages: _PackageParser) -> None:
        action = _first_positional(args)
        self.record_command(manager, action)
        for name, version, pinned in packages(args):
            self.package(manager, name, version, pinned)

    def package(self, manager: str, name: str, version: str | None, pinned: bool) -> None:
        self.state.out["packages"].append(
            self.item(manager=manager, name=name, version=version, pinned=pinned)
        )

    def apt_get(self, manager: str, args: list[str]) -> None:
        action = _first_positional(args, _APT_VALUE_OPTIONS)
        self.record_command(manager, action)
        if action == "update":
            self.apt["updates"] = True
        if action != "install":
            return
        self.apt["installs"] = True
        for name, version, pinned in _apt_packages(args):
            self.package(manager, name, version, pinned)

    def pip(self, args: list[str]) -> None:
        action = _first_positional(args, _PIP_VALUE_OPTIONS)
        self.record_command("pip", action)
        if "--trusted-host" in args or any(a.startswith("--trusted-host=") for a in args):
            self.tls("pip", "--trusted-host")
        if action == "config" and any("trusted-host" in a for a in args):
            self.tls("pip", "trusted-host")
        if action != "install":
            return
        for name, version, pinned in _pip_packages(args):
            self.package("pip", name, version, pinned)

    def npm(self, manager: str, args: list[str]) -> None:
        action = _first_positional(args, _NPM_VALUE_OPTIONS)
        self.record_command(manager, action)
        if any(re.fullmatch(r"--strict-ssl=(?i:false|0)", a) for a in args) or (
            action == "config" and "strict-ssl" in args and args[-1].lower() in _FALSE
        ):
            self.tls(manager, "strict-ssl false")
        installs = {"npm": ("install", "i", "add"), "yarn": ("add",), "pnpm": ("add",)}
        if manager != "npm" or action not in installs[manager]:
            return  # yarn and pnpm are recorded as commands; their pins are not judged
        for name, version, pinned in _npm_packages(args):
            self.package("npm", name, version, pinned)


# -- package arguments -----------------------------------------------------------------------

_APT_VALUE_OPTIONS = _words("-o -c -t --option --config-file --target-release")
_APK_VALUE_OPTIONS = _words(
    "-t --virtual -X --repository -p --root --arch --keys-dir --cache-dir --repositories-file"
)
_PIP_VALUE_OPTIONS = _words(
    "-r --requirement -c --constraint -e --editable -i --index-url "
    "--extra-index-url -f --find-links --trusted-host -t --target --prefix --root "
    "--platform --python-version --implementation --abi --src --upgrade-strategy "
    "--progress-bar --no-binary --only-binary -C --config-settings "
    "--global-option --install-option --cache-dir --log --proxy --retries "
    "--timeout --exists-action --cert --client-cert --report --python"
)
_NPM_VALUE_OPTIONS = _words("--prefix --registry --cache --tag -w --workspace")
_GEM_VALUE_OPTIONS = _words(
    "-v --version -i --install-dir -n --bindir -s --source -P --trust-policy --platform -g --file"
)
_GO_VALUE_OPTIONS = _words("-C -p -tags -ldflags -gcflags -mod -o")

# (name, version, pinned) of each package a command's arguments name.
PackageInfo = tuple[str, str | None, bool]
_PackageParser = Callable[[list[str]], list[PackageInfo]]


def _positionals(args: list[str], value_options: frozenset[str]) -> list[str]:
    """Arguments that are not options nor option values (`--opt=value` is one word)."""
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in value_options:
            skip = True
            continue
        if arg.startswith("-") and arg != "-":
            continue
        out.append(arg)
    return out


def _first_positional(args: list[str], value_options: frozenset[str] = frozenset()) -> str | None:
    found = _positionals(args, value_options)
    return found[0] if found else None


def _is_local(arg: str) -> bool:
    return arg in (".", "..") or arg.startswith(("./", "../", "/", "~", "file:"))


def _apt_packages(args: list[str]) -> list[PackageInfo]:
    out: list[PackageInfo] = []
    for arg in _positionals(args, _APT_VALUE_OPTIONS)[1:]:
        if _is_local(arg) or arg.endswith(".deb"):
            continue  # a local .deb is the exact file named
        name, eq, version = arg.partition("=")
        # `pkg=1.2` pins a version; `pkg/bookworm-backports` pins a release (DL3008).
        base, slash, release = name.partition("/")
        pinned = bool(eq and version) or bool(slash and release)
        out.append((base, version or release or None, pinned))
    return out


def _apk_packages(args: list[str]) -> list[PackageInfo]:
    positionals = _positionals(args, _APK_VALUE_OPTIONS)
    if not positionals or positionals[0] != "add":
        return []
    out: list[PackageInfo] = []
    for arg in positionals[1:]:
        if _is_local(arg) or arg.endswith(".apk"):
            continue
        found = re.match(r"^(?P<name>[^=<>~]+)(?P<op>[=<>~]+)(?P<version>.*)$", arg)
        if found is None:
            out.append((arg, None, False))
        else:
            version = found.group("version") or None
            out.append((found.group("name"), version, version is not None))
    return out


_PIP_SPEC = (
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*(?P<spec>(?:===?|~=|!=|<=?|>=?).*)?$"
)


def _pip_packages(args: list[str]) -> list[PackageInfo]:
    positionals = _positionals(args, _PIP_VALUE_OPTIONS)
    out: list[PackageInfo] = []
    for arg in positionals[1:]:
        if _is_local(arg) or (arg.endswith((".whl", ".tar.gz", ".zip")) and "://" not in arg):
            continue
        if "://" in arg:
            # A VCS URL pins with `@ref`; a plain URL names one file.
            if arg.startswith(("git+", "hg+", "svn+", "bzr+")):
                ref = arg.split("://", 1)[1].rsplit("/", 1)[-1]
                out.append((arg.split("#", 1)[0], None, "@" in ref))
            continue
        found = re.match(_PIP_SPEC, arg.split(";", 1)[0].strip())
        if found is None:
            continue
        spec = found.group("spec")
        out.append((found.group("name"), spec, bool(spec)))
    return out


def _npm_packages(args: list[str]) -> list[PackageInfo]:
    out: list[PackageInfo] = []
    for arg in _positionals(args, _NPM_VALUE_OPTIONS)[1:]:
        if _is_local(arg) or arg.endswith((".tgz", ".tar.gz")):
            continue
        if "://" in arg or arg.startswith(("git+", "github:", "git@")):
            out.append((arg.split("#", 1)[0], None, "#" in arg))
            continue
        at = arg.find("@", 1)  # `@scope/name@1.0`: the scope's `@` is not a version
        name, version = (arg[:at], arg[at + 1 :]) if at > 0 else (arg, "")
        pinned = bool(version) and version not in ("latest", "next")
        out.append((name, version or None, pinned))
    return out


def _gem_packages(args: list[str]) -> list[PackageInfo]:
    positionals = _positionals(args, _GEM_VALUE_OPTIONS)
    if not positionals or positionals[0] != "install":
        return []
    # `-v 1.2` applies to every gem of the command.
    versioned = any(a in ("-v", "--version") or a.startswith("--version=") for a in args)
    out: list[PackageInfo] = []
    for arg in positionals[1:]:
        if arg.endswith(".gem"):
            continue
        name, colon, version = arg.partition(":")
        out.append((name, version or None, versioned or bool(colon and version)))
    return out


def _go_packages(args: list[str]) -> list[PackageInfo]:
    positionals = _positionals(args, _GO_VALUE_OPTIONS)
    if not positionals or positionals[0] != "install":
        return []
    out: list[PackageInfo] = []
    for arg in positionals[1:]:
        if _is_local(arg) or "." not in arg.split("/", 1)[0]:
            continue  # `./cmd/...`, `std`: the module's own code, not a download
        name, _, version = arg.partition("@")
        out.append((name, version or None, bool(version) and version != "latest"))
    return out


# -- finishing -------------------------------------------------------------------------------


def _finish(state: _Parse) -> None:
    out = state.out
    if not state.stages and (
        any(i["keyword"] != "ARG" for i in out["instructions"]) or not out["problems"]
    ):
        state.problem(1, "no FROM instruction")
    final_image: set[int] = set()
    index: int | None = len(state.stages) - 1 if state.stages else None
    while index is not None and index not in final_image:
        final_image.add(index)
        index = state.stages[index].record["parent"]
    for stage in state.stages:
        record = stage.record
        record["user"], record["healthcheck"] = stage.user, stage.healthcheck
        record["final_image"] = record["index"] in final_image
        out["stages"].append(record)
    if state.stages:
        last = state.stages[-1]
        last.record["final"] = True
        out["user"], out["healthcheck"] = last.user, last.healthcheck
    for entry in out["apt_lists"]:
        entry["final_image"] = entry["stage"] in final_image


_Handler = Callable[["tree_sitter.Node", Item, _Parse], None]
_HANDLERS: dict[str, _Handler] = {
    "FROM": _from,
    "ENV": _variables,
    "ARG": _variables,
    "USER": _user,
    "HEALTHCHECK": _healthcheck,
    "EXPOSE": _expose,
    "WORKDIR": _workdir,
    "MAINTAINER": _maintainer,
    "ADD": _add,
    "CMD": _cmd,
    "ENTRYPOINT": _cmd,
    "RUN": _run,
    "SHELL": _shell,
}
