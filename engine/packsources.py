"""Rule packs from git: `git+https://host/org/packs@v1.2.0#path=security.yml[&sha256=HEX]`.

A git pack is pinned to a ref (a tag, a branch, or a full commit). The ref is resolved
to a commit with one `git ls-remote`; the commit's YAML files are fetched once (a
shallow fetch into a temporary bare repository) and stored under the cache folder by
commit, so every later read of that commit, and of packs it `extends` by relative path,
is a plain file read: no network and no git process. A ref that already is a 40-hex
commit (as the lock file gives) is never resolved.

A pack URL may come from an untrusted repository's configuration, so git runs with no
shell, a timeout, no terminal prompt, outside any repository, and with every transport
forbidden except the URL's own scheme (https, ssh or file): no `ext::` command
transports, no `fd::`.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
from collections.abc import Sequence
from pathlib import Path

import msgspec

from opsgrade.engine.errors import ConfigError

# subprocess, tempfile and shutil are imported where git runs: a scan whose git packs
# are all cached (and one without any) never pays for them.

PREFIX = "git+"
SCHEMES = ("https", "ssh", "file")
DEFAULT_TIMEOUT = 60.0
MAX_PACK_FILE = 1024 * 1024
MAX_CACHED_FILES = 2000
MAX_CACHED_BYTES = 64 * 1024 * 1024
PACK_SUFFIXES = (".yml", ".yaml")
META_NAME = ".opsgrade-source.json"
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/+-]*$")
# Variables that would point git at another repository (pre-commit sets some of them).
_REPO_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
)


class GitRef(msgspec.Struct, frozen=True):
    """A parsed git pack reference; `url` is what git fetches (without `git+`)."""

    url: str
    ref: str
    path: str
    sha256: str = ""

    @property
    def scheme(self) -> str:
        return self.url.partition(":")[0]

    @property
    def repo(self) -> str:
        """The repository at the ref: every pack file in it shares one commit."""
        return f"{PREFIX}{self.url}@{self.ref}"

    @property
    def label(self) -> str:
        return f"{self.repo}#path={self.path}"

    def at(self, path: str) -> GitRef:
        """Another file of the same repository and ref (a relative `extends`)."""
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(self.path), path))
        return GitRef(self.url, self.ref, _clean_path(joined, self.label))


class CachedFile(msgspec.Struct, frozen=True):
    data: bytes
    sha256: str


class SourceMeta(msgspec.Struct, frozen=True):
    """Written beside a cached commit, for `opsgrade packs list`."""

    url: str
    ref: str
    commit: str


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_git_ref(ref: str) -> bool:
    """A `git+` pack URL, or any other `SCHEME://` URL, which parse_git_ref refuses
    clearly (a pack is never a local path spelled like a URL)."""
    return ref.startswith(PREFIX) or _URL.match(ref) is not None


def _clean_path(path: str, label: str) -> str:
    clean = posixpath.normpath(path.removeprefix("./"))
    if not path or clean.startswith(("../", "/")) or clean in ("..", "."):
        raise ConfigError(f"{label}: pack path {path!r} must stay inside the repository")
    return clean


def parse_git_ref(text: str) -> GitRef:
    """`git+SCHEME://HOST/REPO@REF#path=FILE[&sha256=HEX]`, or a ConfigError saying why not.

    Parsed by hand (the grammar is this small) so that a scan does not import urllib."""
    if not text.startswith(PREFIX):
        raise ConfigError(
            f"pack URL {text!r}: a pack is fetched from git only, with a git+https://, "
            "git+ssh:// or git+file:// URL"
        )
    rest, _, fragment = text.removeprefix(PREFIX).partition("#")
    scheme, sep, after = rest.partition("://")
    if not sep or scheme not in SCHEMES:
        raise ConfigError(
            f"pack URL {text!r}: use git+https://, git+ssh:// or git+file:// "
            "(other git transports are not allowed)"
        )
    if "?" in after:
        raise ConfigError(f"pack URL {text!r}: put options after '#', not '?'")
    netloc, slash, path = after.partition("/")
    userinfo, at_host, host = netloc.rpartition("@")
    if host.startswith("-") or (scheme != "file" and not host) or not slash:
        raise ConfigError(f"pack URL {text!r}: invalid host")
    if at_host and ":" in userinfo:
        # The URL is shown in every report; a token belongs in a git credential helper.
        raise ConfigError("pack URL: remove the password or token; use a git credential helper")
    base, at, ref = path.rpartition("@")
    if not at or not ref:
        raise ConfigError(f"pack URL {text!r}: pin a ref, e.g. {text.partition('#')[0]}@v1.2.0")
    if not _REF.match(ref) or ".." in ref or ref.endswith((".lock", "/")):
        raise ConfigError(f"pack URL {text!r}: {ref!r} is not a valid git ref")
    options: dict[str, str] = {}
    for item in fragment.split("&") if fragment else ():
        key, eq, value = item.partition("=")
        if key not in ("path", "sha256") or not eq:
            raise ConfigError(f"pack URL {text!r}: unknown option {key!r} (known: path, sha256)")
        options[key] = value
    if "path" not in options:
        raise ConfigError(f"pack URL {text!r}: name the pack file, e.g. #path=security.yml")
    digest = options.get("sha256", "").lower()
    if digest and not _HEX64.match(digest):
        raise ConfigError(f"pack URL {text!r}: sha256 must be 64 hexadecimal digits")
    url = f"{scheme}://{netloc}/{base}"
    return GitRef(url, ref, _clean_path(options["path"], text), digest)


# -- the cache ------------------------------------------------------------------------


def cache_root() -> Path:
    """`$OPSGRADE_CACHE_DIR/packs`, else `$XDG_CACHE_HOME/opsgrade/packs`, else ~/.cache."""
    explicit = os.environ.get("OPSGRADE_CACHE_DIR")
    if explicit:
        return Path(explicit) / "packs"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "opsgrade" / "packs"


def cached_commits() -> list[tuple[Path, SourceMeta]]:
    """Every complete cached commit and where it came from, by URL then commit."""
    root = cache_root()
    found: list[tuple[Path, SourceMeta]] = []
    try:
        entries = sorted(os.listdir(root))
    except OSError:
        return found
    for name in entries:
        if not _HEX40.match(name):
            continue
        try:
            with open(root / name / META_NAME, "rb") as fh:
                meta = msgspec.json.decode(fh.read(), type=SourceMeta)
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            continue
        found.append((root / name, meta))
    return sorted(found, key=lambda item: (item[1].url, item[1].commit))


def read_pack(git: GitRef, commit: str) -> CachedFile:
    """The pack file `git.path` at `commit`, from the cache, fetching the commit if needed."""
    if not _HEX40.match(commit):  # it names a folder: never a path of someone's choosing
        raise ConfigError(f"{git.label}: {commit!r} is not a commit id")
    folder = cache_root() / commit
    if not folder.is_dir():
        _fetch_into_cache(git, commit)
    path = folder / git.path
    try:
        if path.is_symlink() or path.stat().st_size > MAX_PACK_FILE:
            raise ConfigError(f"{git.label}: not a pack file of at most {MAX_PACK_FILE} bytes")
        data = path.read_bytes()
    except OSError:
        raise ConfigError(
            f"{git.label}: no file {git.path!r} at commit {commit} "
            f"(only .yml/.yaml files up to {MAX_PACK_FILE} bytes are kept)"
        ) from None
    return CachedFile(data, hashlib.sha256(data).hexdigest())


# -- git ------------------------------------------------------------------------------


def _timeout() -> float:
    try:
        return max(0.1, float(os.environ.get("OPSGRADE_GIT_TIMEOUT", DEFAULT_TIMEOUT)))
    except ValueError:
        return DEFAULT_TIMEOUT


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _REPO_ENV}
    env["GIT_TERMINAL_PROMPT"] = "0"  # a private repo without credentials fails, never waits
    env["GCM_INTERACTIVE"] = "never"
    env["GIT_PROTOCOL_FROM_USER"] = "0"
    return env


def git_reason(stderr: str, limit: int = 300) -> str:
    """git's first `fatal:`/`error:` line, else its last line, at most `limit` characters.

    git often follows its verdict with generic advice ("Please make sure you have the
    correct access rights / and the repository exists."): the last line is the wrong one.
    """
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    verdicts = [line for line in lines if line.startswith(("fatal:", "error:"))]
    line = verdicts[0] if verdicts else lines[-1] if lines else ""
    return line[:limit]


def _run_git(git: GitRef, args: Sequence[str], cwd: str, stdin: bytes | None = None) -> bytes:
    """One git command with only `git.scheme` allowed, bounded in time, in its own session.

    Its own session so that a timeout kills git's helpers too (`git-remote-https`, ssh),
    and so that ssh has no terminal to ask a password on.
    """
    import shutil
    import signal
    import subprocess

    if git.scheme not in SCHEMES:  # parse_git_ref refuses them; never let one through
        raise ConfigError(f"{git.label}: git transport {git.scheme!r} is not allowed")
    exe = shutil.which("git")
    if exe is None:
        raise ConfigError(f"{git.label}: git is not installed (needed to fetch this pack)")
    command = [
        exe,
        "-c",
        "protocol.allow=never",
        "-c",
        f"protocol.{git.scheme}.allow=always",
        *args,
    ]
    timeout = _timeout()
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=_git_env(),
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise ConfigError(
                f"{git.label}: `git {args[0]}` did not finish within {timeout:g} s "
                "(OPSGRADE_GIT_TIMEOUT)"
            ) from None
    if proc.returncode != 0:
        detail = git_reason(err.decode("utf-8", "replace")) or f"exit status {proc.returncode}"
        raise ConfigError(f"{git.label}: git {args[0]} failed: {detail}")
    return out


def resolve_commit(git: GitRef) -> str:
    """The commit `git.ref` names: itself when it is a full commit, else by `git ls-remote`."""
    if _HEX40.match(git.ref):
        return git.ref
    import tempfile

    with tempfile.TemporaryDirectory(prefix="opsgrade-git-") as tmp:
        out = _run_git(git, ["ls-remote", "--", git.url], tmp)
    refs: dict[str, str] = {}
    for line in out.decode("utf-8", "replace").splitlines():
        oid, _, name = line.partition("\t")
        refs[name] = oid
    for name in (
        f"refs/tags/{git.ref}^{{}}",  # an annotated tag, peeled to its commit
        f"refs/tags/{git.ref}",
        f"refs/heads/{git.ref}",
        git.ref,
    ):
        if _HEX40.match(refs.get(name, "")):
            return refs[name]
    raise ConfigError(f"{git.label}: no tag or branch {git.ref!r} in {git.url}")


def _wants(git: GitRef, commit: str) -> list[str]:
    """What to ask the server for: the commit itself, then (for servers that refuse an
    unadvertised commit) the ref, which must still point at it."""
    if _HEX40.match(git.ref):
        return [commit]
    return [commit, git.ref]


def _fetch_into_cache(git: GitRef, commit: str) -> None:
    import shutil
    import tempfile

    root = cache_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=root))
    except OSError as exc:
        raise ConfigError(f"cannot create the pack cache {root}: {exc.strerror}") from None
    try:
        bare = str(staging / "git")
        _run_git(git, ["init", "-q", "--bare", bare], str(staging))
        error: ConfigError | None = None
        for want in _wants(git, commit):
            try:
                _run_git(git, ["fetch", "-q", "--no-tags", "--depth=1", "--", git.url, want], bare)
                fetched = _run_git(git, ["rev-parse", "FETCH_HEAD^{commit}"], bare).strip()
            except ConfigError as exc:
                error = error or exc
                continue
            if fetched.decode() == commit:
                break
            error = ConfigError(f"{git.label}: {git.ref} is now {fetched.decode()}, not {commit}")
        else:
            assert error is not None
            raise error
        tree = staging / "tree"
        _extract(git, bare, commit, tree)
        meta = SourceMeta(git.url, git.ref, commit)
        (tree / META_NAME).write_bytes(msgspec.json.encode(meta))
        try:
            os.rename(tree, root / commit)  # atomic: a reader sees all of it or none
        except OSError:
            if not (root / commit).is_dir():
                raise
            # Another process stored the same commit first; its copy is identical.
    except OSError as exc:
        raise ConfigError(f"cannot write the pack cache {root}: {exc.strerror}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract(git: GitRef, bare: str, commit: str, tree: Path) -> None:
    """Write the commit's YAML files (bounded in number and size) under `tree`."""
    listing = _run_git(git, ["ls-tree", "-r", "-z", "--long", commit], bare)
    wanted: list[tuple[str, str]] = []
    total = 0
    for entry in listing.split(b"\0"):
        head, _, raw_path = entry.partition(b"\t")
        fields = head.split()
        if len(fields) != 4 or fields[1] != b"blob" or fields[0] not in (b"100644", b"100755"):
            continue  # symlinks, submodules
        path = raw_path.decode("utf-8", "replace")
        if posixpath.normpath(path) != path or path.startswith(("../", "/", ".git/")):
            continue  # a crafted tree entry must not write outside the cache folder
        size = int(fields[3]) if fields[3].isdigit() else MAX_PACK_FILE + 1
        if not path.endswith(PACK_SUFFIXES) or size > MAX_PACK_FILE:
            continue
        total += size
        wanted.append((fields[2].decode(), path))
        if len(wanted) > MAX_CACHED_FILES or total > MAX_CACHED_BYTES:
            raise ConfigError(
                f"{git.label}: the repository has more than {MAX_CACHED_FILES} YAML files or "
                f"{MAX_CACHED_BYTES // (1024 * 1024)} MiB of them; publish packs from a "
                "smaller repository"
            )
    oids = "".join(f"{oid}\n" for oid, _ in wanted).encode()
    batch = _run_git(git, ["cat-file", "--batch"], bare, oids)
    tree.mkdir()
    offset = 0
    for oid, path in wanted:
        header_end = batch.find(b"\n", offset)
        header = batch[offset:header_end].split()
        if header_end < 0 or len(header) != 3 or header[0].decode() != oid:
            raise ConfigError(f"{git.label}: unexpected output from git cat-file")
        size = int(header[2])
        data = batch[header_end + 1 : header_end + 1 + size]
        offset = header_end + 1 + size + 1
        target = tree / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
