"""Our glob translation agrees with wcmatch (GLOBSTAR|BRACE|DOTGLOB) on a corpus."""

from __future__ import annotations

import itertools

import pytest
from wcmatch import glob as wc

from opsgrade.engine.globs import GlobError, GlobSet, Listing

PATTERNS = [
    "README*",
    "README.*",
    "*.md",
    "**/*.md",
    "docs/**",
    "docs/**/*.md",
    "docs/*/index.md",
    ".github/workflows/*.{yml,yaml}",
    "**/Dockerfile",
    "**/*.{Dockerfile,dockerfile}",
    "src/**/test_*.py",
    "a?c",
    "[ab]*.txt",
    "[!a]*.txt",
    "**",
    "*",
    "**/.env",
    "{a,b/{c,d}}/x",
    "CODEOWNERS",
    "x/**/y/**/z",
]
PATHS = [
    "README",
    "README.md",
    "readme.md",
    "docs/README.md",
    "a.md",
    "docs/a.md",
    "docs/x/y/a.md",
    "docs/x/index.md",
    "docs/x/y/index.md",
    ".github/workflows/ci.yml",
    ".github/workflows/ci.yaml",
    ".github/workflows/sub/ci.yml",
    "Dockerfile",
    "svc/Dockerfile",
    "svc/api.Dockerfile",
    "src/test_a.py",
    "src/pkg/test_b.py",
    "src/pkg/b_test.py",
    "abc",
    "a/c",
    "a.txt",
    "b.txt",
    "c.txt",
    "dir/a.txt",
    ".env",
    "app/.env",
    "app/.env.example",
    "a/x",
    "b/c/x",
    "b/d/x",
    "b/e/x",
    "CODEOWNERS",
    "x/y/z",
    "x/1/y/2/z",
    ".hidden",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_agrees_with_wcmatch(pattern: str) -> None:
    ours = GlobSet([pattern])
    flags = wc.GLOBSTAR | wc.BRACE | wc.DOTGLOB
    reference = wc.compile([pattern], flags=flags)
    disagreements = [p for p in PATHS if ours.match(p) != reference.match(p)]
    assert not disagreements, f"{pattern!r} disagrees with wcmatch on {disagreements}"


def test_several_patterns_match_when_any_does() -> None:
    matcher = GlobSet(["*.md", "docs/**"])
    assert matcher.match("a.md")
    assert matcher.match("docs/x/y")
    assert not matcher.match("src/a.py")


def test_ignore_case() -> None:
    assert GlobSet(["README*"], ignore_case=True).match("readme.md")
    assert not GlobSet(["README*"]).match("readme.md")


@pytest.mark.parametrize("bad", ["", "x" * 501])
def test_rejects_empty_and_huge(bad: str) -> None:
    with pytest.raises(GlobError):
        GlobSet([bad])


def test_odd_syntax_is_literal_not_an_error() -> None:
    assert GlobSet(["a[b"]).match("a[b")
    assert GlobSet(["a{b"]).match("a{b")
    assert GlobSet([r"a\*b"]).match("a*b")
    assert not GlobSet([r"a\*b"]).match("axb")


def test_linear_on_adversarial_input() -> None:
    # Many stars against a long non-matching path must not backtrack exponentially.
    pattern = "*a" * 20 + "b"
    path = "a" * 60
    assert not GlobSet([pattern]).match(path)


def test_every_corpus_pair_evaluates() -> None:
    for pattern, path in itertools.product(PATTERNS, PATHS):
        GlobSet([pattern]).match(path)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_select_over_a_listing_agrees_with_match(pattern: str) -> None:
    matcher = GlobSet([pattern])
    listing = Listing(sorted(PATHS))
    assert matcher.select(listing) == [p for p in sorted(PATHS) if matcher.match(p)]


def test_a_newline_in_a_file_name_neither_hides_nor_splits_a_path() -> None:
    paths = sorted(["a\n.env", "b/.env", ".env", "c.md\nREADME.md"])
    listing = Listing(paths)
    assert GlobSet(["**/.env"]).select(listing) == [".env", "b/.env"]
    assert GlobSet(["*.env"]).select(listing) == [".env", "a\n.env"]
    assert GlobSet(["README.md"]).select(listing) == []
    assert GlobSet(["c.md*"]).select(listing) == ["c.md\nREADME.md"]


def test_a_file_name_that_is_not_utf8_is_matched_not_fatal() -> None:
    odd = b"caf\xe9.md".decode("utf-8", "surrogateescape")  # how os.scandir returns it
    listing = Listing(sorted(["README.md", odd]))
    assert GlobSet(["*.md"]).select(listing) == sorted(["README.md", odd])
    assert GlobSet(["README*"]).select(listing) == ["README.md"]
