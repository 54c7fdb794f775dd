"""Pack sources: git URLs (real bare repositories over git+file://), the cache by commit,
sha256 pins, installed entry points, `packs list`, and the bad-input cases (exit 2,
located, before any repository is read)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from packrepos import (
    PackRepo,
    no_git,
    opsgrade,
    pack_yaml,
    rule_yaml,
    service_repo,
    use_cache,
    write_config,
)

from opsgrade.engine import packsources
from opsgrade.engine.errors import ConfigError
from opsgrade.engine.packs import cli_source, load_packs

SECURITY = pack_yaml("acme-security", "2.1.0", rule_yaml("SEC1"), extends=("./base.yml",))
BASE = pack_yaml("acme-base", "1.0.0", rule_yaml("BASE1"))


@pytest.fixture
def packs(tmp_path: Path) -> PackRepo:
    repo = PackRepo(tmp_path / "upstream")
    repo.commit({"security.yml": SECURITY, "base.yml": BASE}, tag="v2.1.0")
    return repo


# -- parsing ---------------------------------------------------------------------------


def test_a_git_reference_parses_into_url_ref_path_and_digest() -> None:
    digest = "ab" * 32
    git = packsources.parse_git_ref(
        f"git+https://github.com/acme/packs@v1.2.0#path=rules/security.yaml&sha256={digest}"
    )
    assert git == packsources.GitRef(
        "https://github.com/acme/packs", "v1.2.0", "rules/security.yaml", digest
    )
    assert git.label == "git+https://github.com/acme/packs@v1.2.0#path=rules/security.yaml"
    ssh = packsources.parse_git_ref("git+ssh://git@github.com/acme/packs.git@release/2#path=a.yml")
    assert (ssh.url, ssh.ref) == ("ssh://git@github.com/acme/packs.git", "release/2")


@pytest.mark.parametrize(
    ("ref", "says"),
    [
        ("git+ext::sh -c id@v1#path=a.yml", "other git transports are not allowed"),
        ("git+fd::3@v1#path=a.yml", "other git transports are not allowed"),
        ("git+http://example.com/p@v1#path=a.yml", "other git transports are not allowed"),
        ("git+https://example.com/packs#path=a.yml", "pin a ref"),
        ("git+https://example.com/packs@v1", "name the pack file"),
        ("git+https://example.com/packs@v1#path=../../etc/passwd", "inside the repository"),
        ("git+https://example.com/packs@v1#path=/etc/x.yml", "inside the repository"),
        ("git+https://example.com/packs@v1#path=a.yml&sha256=123", "64 hexadecimal"),
        ("git+https://example.com/packs@v1#path=a.yml&ref=x", "unknown option 'ref'"),
        ("git+https://example.com/packs@--upload-pack=x#path=a.yml", "not a valid git ref"),
        ("git+https://-oProxyCommand=x/packs@v1#path=a.yml", "invalid host"),
        ("git+https://u:ghp_secret@example.com/p@v1#path=a.yml", "remove the password"),
        ("git+https://example.com/packs@v1?x=1#path=a.yml", "after '#'"),
    ],
)
def test_a_bad_git_reference_is_refused_before_git_runs(ref: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        packsources.parse_git_ref(ref)
    assert says in caught.value.message
    assert "ghp_secret" not in caught.value.message


# -- fetching and the cache -------------------------------------------------------------


def test_a_tagged_git_pack_loads_with_what_it_extends_and_is_cached_by_commit(
    packs: PackRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = use_cache(tmp_path, monkeypatch)
    packset = load_packs([cli_source(packs.url("v2.1.0", "security.yml"))])
    assert [(p.name, p.version) for p in packset.packs] == [
        ("acme-base", "1.0.0"),
        ("acme-security", "2.1.0"),
    ]
    commit = packset.locked[0].commit
    assert [p.commit for p in packset.locked] == [commit, commit]
    assert packset.packs[1].origin == packs.url("v2.1.0", "security.yml")
    assert sorted(p.name for p in (cache / commit).iterdir()) == [
        ".opsgrade-source.json",
        "base.yml",
        "security.yml",
    ]
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no staging left


@pytest.mark.parametrize("kind", ["annotated tag", "branch", "commit"])
def test_each_kind_of_ref_resolves_to_its_commit(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_cache(tmp_path, monkeypatch)
    repo = PackRepo(tmp_path / "upstream")
    first = repo.commit({"p.yml": pack_yaml("p", "1.0.0", rule_yaml("P1"))}, "v1", annotated=True)
    repo.commit({"p.yml": pack_yaml("p", "2.0.0", rule_yaml("P1"))})
    ref = {"annotated tag": "v1", "branch": "main", "commit": first}[kind]
    packset = load_packs([cli_source(repo.url(ref, "p.yml"))])
    assert packset.packs[0].version == ("2.0.0" if kind == "branch" else "1.0.0")


def test_a_cached_commit_costs_no_git_process(
    packs: PackRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_cache(tmp_path, monkeypatch)
    commit = load_packs([cli_source(packs.url("v2.1.0", "security.yml"))]).locked[0].commit
    no_git(tmp_path, monkeypatch)
    again = load_packs([cli_source(packs.url(commit, "security.yml"))])
    assert [p.name for p in again.packs] == ["acme-base", "acme-security"]
    with pytest.raises(ConfigError, match="git is not installed"):  # a tag needs ls-remote
        load_packs([cli_source(packs.url("v2.1.0", "security.yml"))])


def test_a_commit_not_yet_cached_is_fetched_by_its_id(
    packs: PackRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_cache(tmp_path, monkeypatch)
    commit = packs._git("rev-parse", "v2.1.0^{commit}")
    packset = load_packs([cli_source(packs.url(commit, "security.yml"))])
    assert packset.locked[1].commit == commit


def test_sha256_pin_is_checked_against_the_file(
    packs: PackRepo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import hashlib

    use_cache(tmp_path, monkeypatch)
    good = hashlib.sha256(SECURITY.encode()).hexdigest()  # what `sha256sum security.yml` says
    load_packs([cli_source(packs.url("v2.1.0", "security.yml", good))])
    repo = service_repo(tmp_path)
    wrong = "0" * 64
    config = write_config(repo, packs.url("v2.1.0", "security.yml", wrong))
    code, _, err = opsgrade(capsys, "scan", str(repo))
    assert code == 2
    assert f"{config.relative_to(repo)}:4: packs[0]: " in err.replace(str(repo) + "/", "")
    assert packs.url("v2.1.0", "security.yml") in err
    assert f"pins {wrong}" in err and f"is {good}" in err


def test_a_missing_tag_or_file_is_a_clear_error(
    packs: PackRepo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_cache(tmp_path, monkeypatch)
    code, _, err = opsgrade(capsys, "rules", "list", "--pack", packs.url("v9", "security.yml"))
    assert code == 2 and "no tag or branch 'v9'" in err
    code, _, err = opsgrade(capsys, "rules", "list", "--pack", packs.url("v2.1.0", "nope.yml"))
    assert code == 2 and "no file 'nope.yml' at commit" in err


class _SilentServer:
    """Accepts connections and never answers: an unreachable-in-effect git host."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.sock.close()


def test_an_unresponsive_git_host_is_bounded_by_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_cache(tmp_path, monkeypatch)
    monkeypatch.setenv("OPSGRADE_GIT_TIMEOUT", "1")
    server = _SilentServer()
    try:
        repo = service_repo(tmp_path)
        write_config(repo, f"git+https://127.0.0.1:{server.port}/acme/packs@v1#path=a.yml")
        code, _, err = opsgrade(capsys, "scan", str(repo))
    finally:
        server.close()
    assert code == 2
    assert ".opsgrade/config.yml:4: packs[0]: git+https://127.0.0.1:" in err
    assert "did not finish within 1 s" in err


def test_a_refused_connection_is_exit_2_naming_the_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_cache(tmp_path, monkeypatch)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"git+https://127.0.0.1:{port}/acme/packs@v1#path=a.yml"
    code, _, err = opsgrade(capsys, "rules", "list", "--pack", url)
    assert code == 2 and err.startswith(f"opsgrade: error: {url}: git ls-remote failed")


def test_git_refuses_other_transports_even_through_url_rewrites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the URL's own scheme is allowed, by git itself: a `url.*.insteadOf` in the
    user's git config that turns an https URL into an `ext::` command is refused."""
    use_cache(tmp_path, monkeypatch)
    marker = tmp_path / "ran"
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.ext::touch {marker}.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "https://packs.example/")
    git = packsources.parse_git_ref("git+https://packs.example/acme@v1#path=a.yml")
    with pytest.raises(ConfigError, match="transport 'ext' not allowed"):
        packsources.resolve_commit(git)
    assert not marker.exists()
    smuggled = packsources.GitRef(f"ext::touch {marker}", "v1", "a.yml")
    with pytest.raises(ConfigError, match="transport 'ext' is not allowed"):
        packsources.resolve_commit(smuggled)
    assert not marker.exists()


# -- installed packs (entry points) ----------------------------------------------------


def _install(site: Path, entry: str, files: dict[str, str], name: str = "acme-security") -> str:
    """A distribution on `site` registering pack `name` = `entry` (as pip would). `{m}` in
    `entry` and file paths is a module name unique to the test (imports are cached)."""
    module = f"acme_{site.parent.name[-12:].replace('-', '_')}"
    for path, text in files.items():
        target = site / path.format(m=module)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text), "utf-8")
    info = site / "acme_packs-1.4.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-packs\nVersion: 1.4.0\n")
    value = entry.format(m=module)
    (info / "entry_points.txt").write_text(f"[opsgrade.packs]\n{name} = {value}\n")
    return value


@pytest.mark.parametrize(
    ("entry", "module"),
    [
        ("{m}:packs/security.yml", ""),
        (
            "{m}:PACK",
            "from pathlib import Path\nPACK = Path(__file__).parent / 'packs' / 'security.yml'\n",
        ),
        ("{m}:PACK", "PACK = 'packs/security.yml'\n"),
        (
            "{m}:PACK",
            "from importlib import resources\n"
            "PACK = resources.files(__name__) / 'packs/security.yml'\n",
        ),
    ],
    ids=["relative-path", "path-attribute", "str-attribute", "traversable-attribute"],
)
def test_an_installed_pack_is_found_by_its_entry_point_name(
    entry: str, module: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    _install(
        site,
        entry,
        {
            "{m}/__init__.py": module,
            "{m}/packs/security.yml": pack_yaml(
                "acme-security", "2.0.0", rule_yaml("SEC1"), extends=("./base.yml",)
            ),
            "{m}/packs/base.yml": BASE,
        },
    )
    monkeypatch.syspath_prepend(str(site))
    packset = load_packs([cli_source("acme-security")])
    assert [(p.name, p.version) for p in packset.packs] == [
        ("acme-base", "1.0.0"),
        ("acme-security", "2.0.0"),
    ]
    assert packset.locked[1].kind == "entrypoint"


@pytest.mark.parametrize(
    ("entry", "module", "says"),
    [
        ("acme_missing:packs/security.yml", None, "No module named 'M'"),
        ("{m}:NOPE", "", "module 'M' has no attribute 'NOPE'"),
        ("{m}:packs/gone.yml", "", "cannot read the pack"),
        ("{m}:NUMBER", "NUMBER = 3\n", "is a int, not a path to a pack file"),
        ("{m}", "", "give `module:path/to/pack.yml` or `module:attribute`"),
        ("{m}:PACK", "raise RuntimeError('boom')\n", "importing it failed"),
    ],
)
def test_a_broken_entry_point_is_exit_2_naming_it(
    entry: str,
    module: str | None,
    says: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    site = tmp_path / "site"
    value = _install(site, entry, {} if module is None else {"{m}/__init__.py": module})
    monkeypatch.syspath_prepend(str(site))
    code, _, err = opsgrade(capsys, "rules", "list", "--pack", "acme-security")
    assert code == 2, err
    assert f"entry point {value!r}" in err and says in err.replace(value.partition(":")[0], "M")
    assert "Traceback" not in err


def test_packs_list_shows_builtin_installed_locked_and_cached_packs(
    packs: PackRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a user runs it: a fresh process, the installed pack on PYTHONPATH."""
    cache_root = tmp_path / "cache"
    site = tmp_path / "site"
    value = _install(
        site,
        "{m}:packs/security.yml",
        {"{m}/__init__.py": "", "{m}/packs/security.yml": pack_yaml("installed", "3.0.0")},
        name="installed",
    )
    repo = service_repo(tmp_path)
    write_config(repo, packs.url("v2.1.0", "security.yml"))
    other = PackRepo(tmp_path / "other")
    other.commit({"extra.yml": pack_yaml("extra", "0.3.0", rule_yaml("EX1"))}, tag="v0.3.0")
    env = {
        **os.environ,
        "OPSGRADE_CACHE_DIR": str(cache_root),
        "PYTHONPATH": str(site),
        "NO_COLOR": "1",
    }
    command = [sys.executable, "-m", "opsgrade.engine"]
    for args in (
        ["packs", "update", str(repo)],
        ["rules", "list", "--pack", other.url("v0.3.0", "extra.yml")],
    ):
        subprocess.run([*command, *args], env=env, check=True, capture_output=True)
    done = subprocess.run(
        [*command, "packs", "list", str(repo)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert "builtin:readiness" in rows["readiness"]
    assert f"entrypoint:{value}" in rows["installed"] and "3.0.0" in rows["installed"]
    assert "(locked)" in rows["acme-security"] and "2.1.0" in rows["acme-security"]
    assert other.url("v0.3.0", "extra.yml") in rows["extra"] and "(cached)" in rows["extra"]


def test_packs_list_with_a_broken_lock_lists_the_rest_and_exits_2(tmp_path: Path) -> None:
    repo = service_repo(tmp_path)
    (repo / "opsgrade.lock").write_text('{"lock_version": 1, "resolved": [{"bad": 1}]}')
    env = {**os.environ, "OPSGRADE_CACHE_DIR": str(tmp_path / "cache"), "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "opsgrade.engine", "packs", "list", str(repo)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "builtin:readiness" in done.stdout  # the built-in packs are listed all the same
    assert "opsgrade.lock: invalid lock file" in done.stderr
    assert "Traceback" not in done.stderr
