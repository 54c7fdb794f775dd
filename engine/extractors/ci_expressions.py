"""GitHub Actions `${{ }}` expressions: which contexts they read, and which of those an
outsider can write.

A template expansion is pasted verbatim into the script before the shell sees it, so
`run: echo "${{ github.event.issue.title }}"` runs whatever the issue's author typed.
What matters is the *dataflow*: the contexts whose text can reach the expansion.
`${{ contains(github.event.issue.title, 'bug') }}` expands to `true` or `false` and is
harmless; `${{ github.event.issue.title || 'none' }}` is not. The small parser below
follows the expression grammar of GitHub's docs (literals, contexts with `.name`,
`[index]` and `.*`, calls, `!`, comparisons, `&&`, `||`) and the same dataflow rules
as zizmor's `template-injection` audit: `||` passes both sides, `&&` its right side,
comparisons, `!` and predicate functions pass nothing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

MAX_EXPRESSION = 4096  # longer expansions are not parsed (no workflow needs them)
# Patterns are compiled on first use (`regex`), so importing this module for a scan
# without CI files costs no compilation.
_LEXEME = r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>-?(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?))
      | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
      | (?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\].,*])
    )"""
_KEYWORDS = {"true", "false", "null", "nan", "infinity"}
# Functions whose result is a boolean or a hash: their arguments never reach the output.
_PREDICATES = {
    "contains",
    "startswith",
    "endswith",
    "hashfiles",
    "success",
    "always",
    "failure",
    "cancelled",
}
_COMPARISONS = {"==", "!=", "<", "<=", ">", ">="}

# Contexts whose text a person without write access to the repository chooses: the
# free-text fields of issues, pull requests, comments, reviews, discussions, commits
# and wiki pages, and branch names from forks. Taken from the `arbitrary` rows of
# zizmor's context-capabilities table (crates/zizmor/data/context-capabilities.csv)
# for the events an outsider can cause, plus `github.head_ref`; fields whose values
# GitHub restricts (logins, repository names, URLs, SHAs, numbers) are left out.
# `*` stands for one array index. tests/test_zizmor_agreement.py checks that zizmor
# flags every entry.
UNTRUSTED = (
    "github.head_ref",
    "github.event.issue.title",
    "github.event.issue.body",
    "github.event.pull_request.title",
    "github.event.pull_request.body",
    "github.event.pull_request.head.ref",
    "github.event.pull_request.head.label",
    "github.event.pull_request.head.repo.default_branch",
    "github.event.pull_request.head.repo.description",
    "github.event.pull_request.head.repo.homepage",
    "github.event.comment.body",
    "github.event.review.body",
    "github.event.discussion.title",
    "github.event.discussion.body",
    "github.event.answer.body",
    "github.event.changes.title.from",
    "github.event.changes.body.from",
    "github.event.pages.*.page_name",
    "github.event.pages.*.title",
    "github.event.commits.*.message",
    "github.event.commits.*.author.name",
    "github.event.commits.*.author.email",
    "github.event.commits.*.committer.name",
    "github.event.commits.*.committer.email",
    "github.event.head_commit.message",
    "github.event.head_commit.author.name",
    "github.event.head_commit.author.email",
    "github.event.head_commit.committer.name",
    "github.event.head_commit.committer.email",
    "github.event.workflow_run.head_branch",
    "github.event.workflow_run.display_title",
    "github.event.workflow_run.head_commit.message",
    "github.event.workflow_run.head_commit.author.name",
    "github.event.workflow_run.head_commit.author.email",
    "github.event.workflow_run.head_commit.committer.name",
    "github.event.workflow_run.head_commit.committer.email",
    "github.event.workflow_run.head_repository.description",
    "github.event.workflow_run.pull_requests.*.head.ref",
)
_UNTRUSTED = {tuple(p.split(".")) for p in UNTRUSTED}

# Contexts that name the code of a pull request's head (or of the run that built it):
# checking one of them out in a privileged workflow runs the contributor's code there.
PR_HEAD = (
    "github.head_ref",
    "github.event.number",
    "github.event.issue.number",
    "github.event.pull_request.number",
    "github.event.pull_request.head.sha",
    "github.event.pull_request.head.ref",
    "github.event.pull_request.head.repo.full_name",
    "github.event.pull_request.merge_commit_sha",
    "github.event.workflow_run.head_sha",
    "github.event.workflow_run.head_branch",
    "github.event.workflow_run.head_repository.full_name",
    "github.event.workflow_run.pull_requests.*.head.sha",
    "github.event.workflow_run.pull_requests.*.head.ref",
    "github.event.workflow_run.pull_requests.*.number",
)
_PR_HEAD = {tuple(p.split(".")) for p in PR_HEAD}


class _Unparsable(Exception):
    pass


class _Parser:
    """Recursive descent over one expression; collects every context it reads and
    returns, from each rule, the contexts whose text flows into the rule's value."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.read: list[str] = []

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        if self.take()[1] != value:
            raise _Unparsable(value)

    def parse(self) -> list[str]:
        flow = self.or_()
        if self.peek()[0] != "end":
            raise _Unparsable("trailing tokens")
        return flow

    def or_(self) -> list[str]:
        flow = self.and_()
        while self.peek()[1] == "||":
            self.take()
            flow = flow + self.and_()
        return flow

    def and_(self) -> list[str]:
        flow = self.unary()
        while self.peek()[1] == "&&":
            self.take()
            flow = self.unary()  # `a && b` is `b` whenever `a` holds
        return flow

    def unary(self) -> list[str]:
        if self.peek()[1] == "!":
            self.take()
            self.unary()
            return []
        return self.comparison()

    def comparison(self) -> list[str]:
        flow = self.postfix()
        while self.peek()[1] in _COMPARISONS:
            self.take()
            self.postfix()
            flow = []
        return flow

    def postfix(self) -> list[str]:
        kind, value = self.take()
        if kind == "op" and value == "(":
            flow = self.or_()
            self.expect(")")
            return self._members(flow, None)
        if kind in ("string", "number") or (kind == "name" and value.lower() in _KEYWORDS):
            return []
        if kind != "name":
            raise _Unparsable(value)
        if self.peek()[1] == "(":
            return self._members(self._call(value), None)
        return self._members([], [value.lower()])

    def _call(self, name: str) -> list[str]:
        self.take()
        flow: list[str] = []
        if self.peek()[1] != ")":
            while True:
                flow += self.or_()
                if self.peek()[1] != ",":
                    break
                self.take()
        self.expect(")")
        return [] if name.lower() in _PREDICATES else flow

    def _members(self, flow: list[str], path: list[str] | None) -> list[str]:
        """`.name`, `.*` and `[index]` after a context (path) or any other value."""
        while self.peek()[1] in (".", "["):
            if self.take()[1] == ".":
                kind, value = self.take()
                if kind != "name" and value != "*":
                    raise _Unparsable(value)
                part = value.lower()
            else:
                part = self._index()
                self.expect("]")
            if path is not None:
                path.append(part)
        if path is None:
            return flow
        context = ".".join(path)
        self.read.append(context)
        return [context]

    def _index(self) -> str:
        kind, value = self.peek()
        if kind == "string" and self.tokens[self.pos + 1 : self.pos + 2] == [("op", "]")]:
            self.take()
            return value[1:-1].replace("''", "'").lower()
        if value == "*" or kind == "number":
            self.take()
            return "*"
        self.or_()  # a computed index: any element may be meant
        return "*"


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    end = len(text.rstrip())
    while pos < end:
        found = regex(_LEXEME, re.X).match(text, pos)
        if found is None or found.end() == pos:
            raise _Unparsable(text[pos : pos + 10])
        kind = found.lastgroup or ""
        tokens.append((kind, found.group(kind)))
        pos = found.end()
    return tokens


_LOOSE_CONTEXT = (
    r"\b(?:github|env|vars|secrets|inputs|matrix|steps|needs|job|jobs|runner|strategy)"
    r"(?:\.[A-Za-z_*][\w*-]*|\[[^\]]*\])+"
)


def _loose(text: str) -> list[str]:
    """Contexts in an expression the parser refused: all of them may flow."""
    found = regex(_LOOSE_CONTEXT).finditer(text)
    return [regex(r"\[[^\]]*\]").sub(".*", m.group(0)).lower() for m in found]


def analyze(expression: str) -> tuple[list[str], list[str]]:
    """(contexts read, contexts whose text reaches the expansion), both normalized to
    lower case with every index written `*`, without duplicates, in reading order."""
    if len(expression) > MAX_EXPRESSION:
        return [], []
    parser = _Parser(expression)
    try:
        flow = parser.parse()
    except (_Unparsable, IndexError):
        loose = _loose(expression)
        return _unique(loose), _unique(loose)
    return _unique(parser.read), _unique(flow)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _matches(context: str, patterns: set[tuple[str, ...]]) -> bool:
    parts = context.split(".")
    for pattern in patterns:
        if len(pattern) == len(parts) and all(
            p == "*" or p == c for p, c in zip(pattern, parts, strict=True)
        ):
            return True
    return False


def is_untrusted(context: str) -> bool:
    return _matches(context, _UNTRUSTED)


def is_pr_head(context: str) -> bool:
    return _matches(context, _PR_HEAD)


def expressions(text: str) -> Iterator[tuple[str, int]]:
    """Each `${{ … }}` in `text`: its inner text and its offset.

    A scan with `str.find` rather than a lazy regex: with many `${{` and no `}}` the
    regex would search to the end of the text from each one (quadratic)."""
    start = text.find("${{")
    while start != -1:
        end = text.find("}}", start + 3)
        if end == -1:
            return  # nothing after this point is closed
        yield text[start + 3 : end], start
        start = text.find("${{", end + 2)


@functools.cache
def regex(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """`re.compile` on first use, then from the cache."""
    return re.compile(pattern, flags)
