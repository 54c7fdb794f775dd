"""The pull-request comment: one per pull request, found again by its marker, updated in place.

The markdown reporter's comment starts with a hidden marker (`MARKER`). Anyone can paste
that marker into a comment, so a comment is ours only when its body starts with the
marker *and* its author is the token's user. That user comes from `GET /user` when the
token may read it; the Actions token (`GITHUB_TOKEN`, an app installation token) may
not, and then a comment is ours when a bot wrote it (people cannot post as a bot),
preferring `github-actions[bot]`, the author of every comment made with that token.

Several of ours (older runs that raced, or a `comment-key` change) are folded into one:
the newest is updated and the others deleted. Every call goes through the client of
engine/github/client.py (bounded retries and rate-limit waits); errors propagate as
PyGithub or requests exceptions for the Action to turn into a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Literal

import msgspec

from opsgrade.reporters.markdown import MARKER

if TYPE_CHECKING:
    import github
    from github.IssueComment import IssueComment
    from github.NamedUser import NamedUser
    from github.Organization import Organization

ACTIONS_BOT = "github-actions[bot]"
# How many comments are read looking for ours: 50 pages of 100. A pull request with
# more gets a new comment rather than an unbounded walk.
MAX_COMMENTS = 5_000
WhenPassing = Literal["update", "minimize", "delete"]
Action = Literal["created", "updated", "unchanged", "deleted", "none"]


class CommentResult(msgspec.Struct, frozen=True):
    action: Action
    url: str | None = None
    removed: int = 0  # older copies of ours deleted
    minimized: bool | None = None  # None: not asked to change; else its new state
    problems: tuple[str, ...] = ()  # what went wrong after the main write (non-fatal)


class Author(msgspec.Struct, frozen=True):
    """Who our comments are by: a login, or (unknown login) any bot."""

    login: str | None


def key_line(key: str) -> str:
    """A second hidden line that keeps the comments of several opsgrade jobs apart."""
    # Letters, digits and `._/-` only, no `--`: nothing can end the HTML comment early.
    clean = re.sub("-+", "-", "".join(c for c in key if c.isalnum() or c in "._/-"))[:100]
    return f"<!-- opsgrade:comment-key {clean} -->" if clean else ""


def with_key(body: str, key: str) -> str:
    """`body` with the key line right after the marker (the marker stays first)."""
    line = key_line(key)
    if not line:
        return body
    first, sep, rest = body.partition("\n")
    return f"{first}\n{line}\n{rest}" if sep else f"{first}\n{line}\n"


def body_is_ours(body: str | None, key: str) -> bool:
    """The body starts with the marker and carries our key line (or none, without a key)."""
    if not body or not body.startswith(MARKER):
        return False
    second = body[len(MARKER) :].lstrip("\r\n").split("\n", 1)[0].strip()
    has_key = second.startswith("<!-- opsgrade:comment-key ")
    return second == key_line(key) if key_line(key) else not has_key


def resolve_author(gh: github.Github) -> Author:
    """`GET /user` when the token may read it; an installation token may not (403)."""
    from github import GithubException

    try:
        return Author(gh.get_user().login)
    except GithubException as exc:
        if exc.status in (403, 404):
            return Author(None)
        raise


def _authored(comment: IssueComment, author: Author) -> bool:
    user: NamedUser | Organization | None = comment.user  # null: a deleted account
    if user is None:
        return False
    if author.login is not None:
        return bool(user.login) and user.login.lower() == author.login.lower()
    return user.type == "Bot"


def select_ours(comments: Iterable[IssueComment], author: Author, key: str) -> list[IssueComment]:
    """Our comments, oldest first. Without a known login, one bot's: the Actions bot's
    if it has any, else the bot of the newest candidate (never another bot's too)."""
    mine: list[IssueComment] = []
    for index, comment in enumerate(comments):
        if index >= MAX_COMMENTS:
            break
        if body_is_ours(comment.body, key) and _authored(comment, author):
            mine.append(comment)
    if author.login is None and mine:
        logins = {c.user.login for c in mine}
        chosen = ACTIONS_BOT if ACTIONS_BOT in logins else mine[-1].user.login
        mine = [c for c in mine if c.user.login == chosen]
    return sorted(mine, key=lambda c: (c.created_at, c.id))


def upsert(
    gh: github.Github,
    repository: str,
    number: int,
    body: str,
    *,
    passed: bool,
    when_passing: WhenPassing = "update",
    key: str = "",
) -> CommentResult:
    """Create, update, minimize or delete our comment on pull request `number`.

    `gh` should be lazy (`Github.withLazy(True)`): the repository and the pull request
    are then addressed without fetching them, and only the comments are read."""
    issue = gh.get_repo(repository).get_issue(number)  # lazy: no request
    author = resolve_author(gh)
    ours = select_ours(issue.get_comments(), author, key)
    body = with_key(body, key)
    newest, older = (ours[-1], ours[:-1]) if ours else (None, [])
    if passed and when_passing == "delete":
        removed, problems = _delete_all(ours)
        action: Action = "deleted" if removed else "none"
        return CommentResult(action, removed=removed, problems=problems)
    if newest is None:
        newest = issue.create_comment(body)
        action = "created"
    elif newest.body != body:
        newest.edit(body)
        action = "updated"
    else:
        action = "unchanged"
    removed, problems = _delete_all(older)
    minimized: bool | None = None
    if when_passing == "minimize":
        minimized, problem = _set_minimized(newest, hide=passed, fresh=action == "created")
        problems += problem
    return CommentResult(action, newest.html_url, removed, minimized, problems)


def _delete_all(comments: Sequence[IssueComment]) -> tuple[int, tuple[str, ...]]:
    """Delete each; a failure is reported and the rest still go."""
    from opsgrade.engine.github.client import describe_error

    removed = 0
    problems: list[str] = []
    for comment in comments:
        try:
            comment.delete()
            removed += 1
        except Exception as exc:  # any failure of one delete: report it, go on
            problems.append(f"could not delete an older comment: {describe_error(exc)}")
    return removed, tuple(problems)


def _set_minimized(
    comment: IssueComment, *, hide: bool, fresh: bool
) -> tuple[bool | None, tuple[str, ...]]:
    """Hide the comment when the pull request passes, show it again when it fails.

    REST does not say whether a comment is minimized, so a failing run unminimizes the
    comment it updated (a no-op when it was shown); a comment just created is shown.
    """
    from opsgrade.engine.github.client import describe_error

    if not hide and fresh:
        return False, ()
    try:
        if hide:
            comment.minimize(reason="RESOLVED")
        else:
            comment.unminimize()
    except Exception as exc:  # GraphQL may be unavailable (old GHES): the comment stands
        verb = "minimize" if hide else "unminimize"
        return None, (f"could not {verb} the comment: {describe_error(exc)}",)
    return hide, ()
