"""The `command` primitive: a program the pack ships decides the rule (a custom check).

A pack is untrusted input, and a program is the one thing in a pack that could do harm,
so a command check runs only when the repository's own config lists its pack in
`trusted_packs` (by name; a pack fetched from a git URL only by that exact URL). For a
pack it does not trust, the check is an `error` result and no process is started.

The contract with the program (docs/rule-packs.md, "Command checks"):

- argv list, never a shell; `{python}` (this interpreter), `{pack_dir}` (the pack
  file's folder) and `{service_root}` (the service's folder, repository-relative, `.`
  for the root) are replaced in each argument;
- run in the repository root with stdin closed and a minimal environment: PATH, HOME,
  LANG from ours, plus OPSGRADE_SERVICE, OPSGRADE_SERVICE_ROOT and OPSGRADE_TODAY (no
  tokens: GITHUB_TOKEN and every other variable stay out);
- it prints one JSON object on stdout and exits 0, whatever the verdict:
  `{"status": "pass"|"fail", "message": "...", "locations": [{"path": "...", "line": 3}]}`;
- a timeout, a non-zero exit, output over `max_output` bytes, or a verdict that is not
  that object makes the result `error`, with a message saying which.

Only a work tree has files a program can read: on a git revision (the base of `opsgrade
diff`) the result is `error` ("command checks need a work tree").
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from msgspec import Meta

from opsgrade.engine.checks import MAX_LOCATIONS, PACK_REPO_VIEW, Outcome, Site
from opsgrade.engine.errors import ConfigError
from opsgrade.engine.facts import EvalContext, FactError
from opsgrade.engine.model import Location

if TYPE_CHECKING:
    from opsgrade.engine import specs

# Names the config trusts while packs are compiled; set by `trusting` around load_packs.
_TRUSTED: ContextVar[frozenset[str]] = ContextVar("opsgrade_trusted_packs", default=frozenset())
PASSED_ENV = ("PATH", "HOME", "LANG")
MAX_MESSAGE = 500
MAX_STDERR_SHOWN = 200
REMOTE_MARKERS = ("git+", "://")
CONFIG_FILE = ".opsgrade/config.yml"
# A pack read from a git revision has its folder written out for its programs, within:
MAX_PACK_FOLDER_FILES = 2000
MAX_PACK_FOLDER_BYTES = 64 * 1024 * 1024
# (commit, pack folder) -> the folder written out for it
_MATERIALIZED: dict[tuple[str | None, str], str | None] = {}


@contextlib.contextmanager
def trusting(names: Iterable[str]) -> Iterator[None]:
    """Packs compiled inside this block may run commands when named in `names`."""
    token = _TRUSTED.set(_TRUSTED.get() | frozenset(names))
    try:
        yield
    finally:
        _TRUSTED.reset(token)


class VerdictLocation(msgspec.Struct, forbid_unknown_fields=True):
    path: Annotated[str, Meta(min_length=1, max_length=1000)]
    line: Annotated[int, Meta(ge=1)] = 1


class Verdict(msgspec.Struct, forbid_unknown_fields=True):
    """What the program prints on stdout: the published contract."""

    status: Literal["pass", "fail"]
    message: str = ""
    locations: Annotated[list[VerdictLocation], Meta(max_length=1000)] = []


_DECODER = msgspec.json.Decoder(Verdict)


def is_remote(label: str) -> bool:
    return label.startswith(REMOTE_MARKERS[0]) or REMOTE_MARKERS[1] in label


def _pack_name(site: Site) -> str:
    data = site.doc.data
    if isinstance(data, dict):
        meta = data.get("metadata")
        if isinstance(meta, dict) and isinstance(meta.get("name"), str):
            return str(meta["name"])
    return site.doc.path


def _pack_dir(label: str) -> str | None:
    """The folder of the pack file on disk, when there is one (file and installed packs)."""
    if label.startswith("entrypoint:"):
        # Resolved as the loader does (`module:path.yml` or `module:attribute`).
        from opsgrade.engine.packs import _entry_point_target

        with contextlib.suppress(ConfigError, TypeError, ValueError):
            folder = Path(str(_entry_point_target(label.removeprefix("entrypoint:")))).parent
            return str(folder) if folder.is_dir() else None
        return None
    if is_remote(label) or ":" in label.split("/", 1)[0]:
        return None
    repo_view = PACK_REPO_VIEW.get()
    if repo_view is not None:
        return _repo_pack_dir(repo_view, label)
    path = Path(label)
    return str(path.resolve().parent) if path.is_file() else None


def _repo_pack_dir(view: Any, label: str) -> str | None:
    """The folder of a repository's own pack: in the work tree (not relative to the
    current directory: `opsgrade scan ../repo`), or, for a pack read from a git revision
    (the base of a pull request), that revision's copy of the folder: the programs that
    judge a change are the base's, as its packs are, never the ones the change edits."""
    root = work_tree_root(view)
    if root is not None:
        path = root / label
        return str(path.resolve().parent) if path.is_file() else None
    folder = posixpath.dirname(label)
    key = (view.revision, folder)  # a commit id names the folder's content
    if key not in _MATERIALIZED:
        _MATERIALIZED[key] = _materialize(view, folder)
    return _MATERIALIZED[key]


def _materialize(view: Any, folder: str) -> str | None:
    """Write the text files under `folder` of `view` to a temporary folder (removed at
    exit); None when there are more than the bounds allow."""
    import atexit
    import shutil
    import tempfile

    from opsgrade.engine.repoview import Unreadable

    files = [f for f in view.files() if not folder or f.startswith(folder + "/")]
    if len(files) > MAX_PACK_FOLDER_FILES:
        return None
    tmp = Path(tempfile.mkdtemp(prefix="opsgrade-pack-"))
    atexit.register(shutil.rmtree, tmp, True)
    total = 0
    for rel in files:
        try:
            data = view.read_text(rel).encode("utf-8")
        except Unreadable:
            continue  # a binary file: the programs a pack ships are scripts
        total += len(data)
        if total > MAX_PACK_FOLDER_BYTES:
            return None
        dest = tmp / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        dest.chmod(0o755)  # a git revision's modes are not kept; a script may be run directly
    return str(tmp / folder) if folder else str(tmp)


def trusts_remote(label: str, trusted: Iterable[str]) -> bool:
    """A git pack is trusted by its URL: the whole label, or its `git+URL@ref` part
    (every file of that repository at that ref); a `sha256=` in the entry is ignored."""
    wanted = {label, label.partition("#")[0]}
    for entry in trusted:
        base, _, fragment = entry.partition("#")
        kept = "&".join(p for p in fragment.split("&") if p and not p.startswith("sha256="))
        if (f"{base}#{kept}" if kept else base) in wanted:
            return True
    return False


def _untrusted_message(pack: str, label: str) -> str:
    if is_remote(label):
        return (
            f"pack {pack} was fetched from {label} and is not trusted to run commands; "
            f"add that URL to trusted_packs in {CONFIG_FILE}"
        )
    return f"pack {pack} is not trusted to run commands; add it to trusted_packs in {CONFIG_FILE}"


class CommandCheck(msgspec.Struct, frozen=True):
    argv: tuple[str, ...]
    timeout: float
    max_output: int
    pack: str
    pack_dir: str | None
    # None when trusted; else the message of the `error` result.
    refused: str | None

    def evaluate(self, ctx: EvalContext) -> Outcome:
        if self.refused is not None:
            raise FactError(self.refused, ctx.anchor)
        root = work_tree_root(ctx.view)
        if root is None:
            raise FactError(
                "command checks need a work tree; this scan reads a git revision", ctx.anchor
            )
        argv = self._argv(ctx)
        stdout = run_bounded(argv, root, _environment(ctx), self.timeout, self.max_output, ctx)
        return _outcome(stdout, ctx, program_name(argv))

    def _argv(self, ctx: EvalContext) -> list[str]:
        values = {
            "python": sys.executable,
            "service_root": ctx.service.root or ".",
            "pack_dir": self.pack_dir or "",
        }
        if self.pack_dir is None and any("{pack_dir}" in arg for arg in self.argv):
            raise FactError(
                f"`{{pack_dir}}` needs pack {self.pack} to be a file on disk", ctx.anchor
            )
        out = []
        for arg in self.argv:
            for key, value in values.items():
                arg = arg.replace("{" + key + "}", value)
            out.append(arg)
        return out


def work_tree_root(view: Any) -> Path | None:
    """The folder a view reads, or None for a git revision (no files on disk).

    A filtered view (the config's `exclude`) wraps the real one; its files are the same.
    """
    for _ in range(4):
        root = getattr(view, "root", None)
        if isinstance(root, Path):
            return root
        view = getattr(view, "_view", None)
        if view is None:
            return None
    return None


def _environment(ctx: EvalContext) -> dict[str, str]:
    env = {key: os.environ[key] for key in PASSED_ENV if key in os.environ}
    env.setdefault("PATH", os.defpath)
    env["OPSGRADE_SERVICE"] = ctx.service.name
    env["OPSGRADE_SERVICE_ROOT"] = ctx.service.root or "."
    env["OPSGRADE_TODAY"] = ctx.today.isoformat()
    return env


def _kill(proc: Any) -> None:
    import signal

    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)  # the whole group: children die too
    with contextlib.suppress(OSError):
        proc.kill()
    proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def program_name(argv: Sequence[str]) -> str:
    """What messages call the program: the script or module, not the interpreter."""
    if argv[0] == sys.executable and len(argv) > 1:
        if argv[1] == "-c":  # inline code has no name of its own
            return f"{os.path.basename(argv[0])} -c"
        rest = argv[2:] if argv[1] == "-m" else argv[1:]
        if rest:
            return os.path.basename(rest[0])
    return os.path.basename(argv[0])


def run_bounded(
    argv: Sequence[str],
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    max_output: int,
    ctx: EvalContext,
) -> bytes:
    """Run `argv`; its stdout, or FactError on timeout, non-zero exit or too much output."""
    import selectors
    import subprocess

    name = program_name(argv)
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, killed as one on timeout
        )
    except OSError as exc:
        raise FactError(f"cannot run {name}: {exc.strerror or exc}", ctx.anchor) from None
    assert proc.stdout is not None and proc.stderr is not None
    chunks: dict[int, list[bytes]] = {proc.stdout.fileno(): [], proc.stderr.fileno(): []}
    sizes = dict.fromkeys(chunks, 0)
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        for stream in (proc.stdout, proc.stderr):
            sel.register(stream, selectors.EVENT_READ)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                _kill(proc)
                raise FactError(f"{name} timed out after {timeout:g}s", ctx.anchor)
            for key, _ in sel.select(left):
                data = os.read(key.fd, 65536)
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                sizes[key.fd] += len(data)
                if sizes[key.fd] > max_output:
                    _kill(proc)
                    raise FactError(f"{name} wrote more than {max_output} bytes", ctx.anchor)
                chunks[key.fd].append(data)
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    proc.stdout.close()
    proc.stderr.close()
    try:
        code = proc.wait(max(deadline - time.monotonic(), 0.01))
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise FactError(f"{name} timed out after {timeout:g}s", ctx.anchor) from None
    if code != 0:
        raise FactError(_exit_message(name, code, b"".join(chunks[err_fd])), ctx.anchor)
    return b"".join(chunks[out_fd])


def _exit_message(name: str, code: int, stderr: bytes) -> str:
    last = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
    detail = f": {_short(last[0], MAX_STDERR_SHOWN)}" if last[0] else ""
    how = f"was killed by signal {-code}" if code < 0 else f"exited with {code}"
    return f"{name} {how}{detail}"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _outcome(stdout: bytes, ctx: EvalContext, name: str) -> Outcome:
    if not stdout.strip():
        raise FactError(f"{name} printed no verdict on stdout", ctx.anchor)
    try:
        verdict = _DECODER.decode(stdout)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise FactError(f"{name} printed no valid verdict: {exc}", ctx.anchor) from None
    message = _short(" ".join(verdict.message.split()), MAX_MESSAGE) or f"{name}: {verdict.status}"
    present = set(ctx.view.files())
    locations: list[Location] = []
    for loc in verdict.locations[:MAX_LOCATIONS]:
        if loc.path not in present:
            raise FactError(
                f"{name} named {_short(loc.path, 80)!r}, which is not a file of the repository",
                ctx.anchor,
            )
        locations.append(Location(loc.path, loc.line))
    if verdict.status == "pass":
        return Outcome(True, message, tuple(locations), negated=message)
    anchor = (ctx.anchor,) if ctx.anchor else ()
    return Outcome(False, message, tuple(locations) or anchor, negated=message)


def compile_check(spec: specs.CommandCheck, site: Site) -> CommandCheck:
    pack = _pack_name(site)
    label = site.doc.path
    trusted = _TRUSTED.get()
    allowed = trusts_remote(label, trusted) if is_remote(label) else pack in trusted
    return CommandCheck(
        argv=tuple(spec.run),
        timeout=spec.timeout,
        max_output=spec.max_output,
        pack=pack,
        pack_dir=_pack_dir(label) if any("{pack_dir}" in arg for arg in spec.run) else None,
        refused=None if allowed else _untrusted_message(pack, label),
    )
