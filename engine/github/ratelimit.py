"""The scheduler every GitHub request of the org scan goes through.

GitHub has two kinds of limits (docs.github.com, "Rate limits for the REST API"): the
primary quota (5,000 requests an hour for a token, announced on every response by
`X-RateLimit-Remaining` / `X-RateLimit-Reset`), and secondary limits that punish bursts
(no more than 100 concurrent requests, about 900 points a minute for REST, answered by
403/429 with `Retry-After`). This scheduler keeps a scan of thousands of repositories
inside both:

- **bounded concurrency**: at most `concurrency` requests in flight (a semaphore);
- **spreading**: request starts are at least `60 / requests_per_minute` seconds apart
  (the default, 600 a minute, stays well under the 900-point secondary limit and leaves
  room for other users of the same token); when the primary quota runs low (under
  `low_water` left) and its reset comes within the wait budget, the interval grows to
  spread what is left over the time until the reset (charged to the budget), instead of
  running dry and waiting at the end;
- **primary limit**: with nothing left, it waits for `X-RateLimit-Reset`;
- **secondary limit** (403/429 with `Retry-After` or GitHub's "secondary rate limit"
  message): every thread pauses for `Retry-After` (without one: at least a minute, then
  exponentially longer, with jitter, as GitHub's docs ask), the pace is halved, and the
  request is retried;
- **5xx and network errors**: retried `max_retries` times with exponential backoff;
- **a total wait budget** (`max_wait_s`): the time the scan spends blocked by limits and
  backoff (not the ordinary spacing). A wait that would go over it raises
  SourceExhausted with a message saying what is left and when it resets; from then on
  every call raises at once, so the run stops consistently.

This is the only place that retries: the PyGithub client is built with its own
GithubRetry turned off (`retry=0`), so a request is never retried twice over and no
hidden sleep escapes the budget.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

import msgspec

from opsgrade.engine.org.sources import SourceExhausted

T = TypeVar("T")

DEFAULT_REQUESTS_PER_MINUTE = 600.0
MAX_BACKOFF_S = 60.0
MAX_SECONDARY_WAIT_S = 900.0
SECONDARY_MESSAGE = "secondary rate limit"


class Failure(msgspec.Struct, frozen=True, kw_only=True):
    """What a failed request said, in HTTP terms: status 0 for a network error."""

    status: int
    headers: Mapping[str, str] = msgspec.field(default_factory=dict)
    message: str = ""


class Quota(msgspec.Struct, frozen=True, kw_only=True):
    remaining: int
    limit: int
    reset: float  # epoch seconds


# Turns an exception raised by a request into a Failure, or None when it is not an HTTP
# or network failure (a bug, a bad argument): those propagate untouched.
Classifier = Callable[[BaseException], Failure | None]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return str(value)
    return None


def quota_from_headers(headers: Mapping[str, str]) -> Quota | None:
    remaining = _header(headers, "x-ratelimit-remaining")
    reset = _header(headers, "x-ratelimit-reset")
    limit = _header(headers, "x-ratelimit-limit")
    try:
        if remaining is None or reset is None:
            return None
        return Quota(
            remaining=int(float(remaining)),
            limit=int(float(limit)) if limit is not None else -1,
            reset=float(reset),
        )
    except ValueError:
        return None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = _header(headers, "retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare for GitHub; the backoff applies instead


def _clock_time(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%H:%M UTC")


class Scheduler:
    """Runs request callables under GitHub's limits; safe to share between threads."""

    def __init__(
        self,
        *,
        concurrency: int = 4,
        max_wait_s: float = 600.0,
        requests_per_minute: float = DEFAULT_REQUESTS_PER_MINUTE,
        max_retries: int = 3,
        low_water: int = 50,
        classify: Classifier,
        progress: Callable[[], str] = lambda: "",
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
    ) -> None:
        if concurrency < 1 or requests_per_minute <= 0 or max_wait_s < 0:
            raise ValueError("concurrency and requests_per_minute must be positive")
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._interval = 60.0 / requests_per_minute
        self._max_wait = max_wait_s
        self._max_retries = max_retries
        self._low_water = low_water
        self._classify = classify
        self._progress = progress
        self._clock, self._wall, self._sleep = clock, wall, sleep
        self._random = random.Random(seed)  # noqa: S311 - jitter, not security
        self._next_start = 0.0  # clock time before which no request may start
        self._blocked_until = 0.0  # clock time the last limit-caused pause ends
        self._quota: Quota | None = None
        self._stopped: str | None = None
        self.waited_s = 0.0  # time blocked by limits and backoff, the budgeted part
        self.requests = 0
        self.retries = 0
        self.secondary_hits = 0
        # First backoffs (jittered to 0.5-1x, doubling per attempt): after a 5xx or network
        # error, and after a secondary limit that gave no Retry-After (GitHub's docs: "wait
        # at least one minute", then exponentially longer).
        self.backoff_base_s = 1.0
        self.secondary_wait_s = 60.0

    # -- the one entry point -----------------------------------------------------------
    def call(self, fn: Callable[[], T], *, quota: bool = True) -> T:
        """Run `fn` (one HTTP request) within the limits, retrying what can be retried.

        `quota=False` for a request the API quota does not count (an archive download
        from the codeload host): it is still spaced and bounded in concurrency.
        """
        attempt = 0
        while True:
            with self._slots:
                self._wait_turn(quota)
                try:
                    result = fn()
                except Exception as exc:
                    failure = self._classify(exc)
                    if failure is None:
                        raise
                    pause = self._on_failure(failure, attempt)
                    if pause is None:
                        raise
                else:
                    return result
            attempt += 1
            with self._lock:
                self.retries += 1
            self._pause(pause)

    # -- before a request --------------------------------------------------------------
    def observe(self, headers: Mapping[str, str]) -> None:
        """Learn the primary quota from a successful response's headers."""
        self._observe(quota_from_headers(headers))

    def _wait_turn(self, counted: bool) -> None:
        """Sleep until this request may start: the spacing, and the primary quota."""
        with self._lock:
            self._check_stopped()
            now = self._clock()
            wait_reset = self._reset_wait_locked()
            if wait_reset is not None:
                self._block_locked(now, wait_reset, self._primary_message)
            start = max(now, self._next_start, self._blocked_until)
            spread = self._spread_locked()
            self.waited_s += spread
            self._next_start = start + self._interval + spread
            if counted and self._quota is not None:  # one unit taken until told otherwise
                self._quota = msgspec.structs.replace(
                    self._quota, remaining=max(0, self._quota.remaining - 1)
                )
            self.requests += 1
        delay = start - self._clock()
        if delay > 0:
            self._sleep(delay)
        self._wait_out_pauses()

    def _wait_out_pauses(self) -> None:
        """A pause that began while this request waited its turn (another request was
        told to back off) holds this one too: GitHub asks for all requests to stop."""
        while True:
            with self._lock:
                self._check_stopped()
                left = self._blocked_until - self._clock()
            if left <= 0:
                return
            self._sleep(left)

    def _reset_wait_locked(self) -> float | None:
        """Seconds until the primary quota resets, when nothing of it is left."""
        quota = self._quota
        if quota is None or quota.remaining > 0:
            return None
        wait = quota.reset - self._wall() + 1.0  # GitHub's reset second is inclusive
        if wait <= 0:
            self._quota = None  # the window has turned; the next response tells the truth
            return None
        return wait

    def _spread_locked(self) -> float:
        """Extra spacing (charged to the budget) while the primary quota runs low.

        What is left is spread over the time to the reset, so other users of the token
        are not starved; only when the reset comes within the wait budget, because then
        the scan would have waited for it anyway. Otherwise the quota is used at full
        pace and the scan stops when it is gone: the most work the budget allows.
        """
        quota = self._quota
        if quota is None or quota.remaining >= self._low_water:
            return 0.0
        to_reset = quota.reset - self._wall()
        if to_reset <= 0 or to_reset > self._max_wait - self.waited_s:
            return 0.0
        return max(0.0, to_reset / max(quota.remaining, 1) - self._interval)

    def _block_locked(self, now: float, seconds: float, message: Callable[[], str]) -> None:
        """Block every thread for `seconds` from now, charged to the budget once."""
        until = now + seconds
        extra = until - max(now, self._blocked_until)
        if extra <= 0:
            return
        if self.waited_s + extra > self._max_wait:
            self._stopped = message()
            raise SourceExhausted(self._stopped)
        self.waited_s += extra
        self._blocked_until = until

    def _check_stopped(self) -> None:
        if self._stopped is not None:
            raise SourceExhausted(self._stopped)

    # -- after a request ---------------------------------------------------------------
    def _observe(self, quota: Quota | None) -> None:
        if quota is None:
            return
        with self._lock:
            known = self._quota
            # Responses of concurrent requests arrive out of order: within one window the
            # smallest remaining count is the latest; a later reset starts a new window.
            if known is None or quota.reset > known.reset or quota.remaining < known.remaining:
                self._quota = quota
            if quota.limit > 0:
                self._low_water = min(self._low_water, max(1, quota.limit // 10))

    def _on_failure(self, failure: Failure, attempt: int) -> float | None:
        """How long to pause before retrying, or None to give the failure to the caller."""
        quota = quota_from_headers(failure.headers)
        self._observe(quota)
        limited = failure.status in (403, 429)
        secondary = limited and (
            _retry_after(failure.headers) is not None
            or SECONDARY_MESSAGE in failure.message.lower()
        )
        if secondary:
            with self._lock:
                self.secondary_hits += 1
                self._interval = min(self._interval * 2, 10.0)  # slow down for good
            retry_after = _retry_after(failure.headers)
            if retry_after:
                return retry_after
            return self._backoff(2 * self.secondary_wait_s, attempt, MAX_SECONDARY_WAIT_S)
        if limited and quota is not None and quota.remaining == 0:
            return max(0.0, quota.reset - self._wall() + 1.0)
        transient = failure.status == 0 or failure.status >= 500
        if transient and attempt < self._max_retries:
            return self._backoff(self.backoff_base_s, attempt, MAX_BACKOFF_S)
        return None

    def _backoff(self, base: float, attempt: int, cap: float) -> float:
        """Between base/2 and base, doubled per attempt, at most `cap`."""
        full = min(cap, base * 2.0**attempt)
        return full / 2 + self._random.uniform(0, full / 2)

    def _pause(self, seconds: float) -> None:
        """Pause every thread (GitHub asks clients to stop, not just the one request)."""
        with self._lock:
            self._check_stopped()
            now = self._clock()
            self._block_locked(now, seconds, lambda: self._pause_message(seconds))
            self._next_start = max(self._next_start, self._blocked_until)
            until = self._blocked_until
        delay = until - self._clock()
        if delay > 0:
            self._sleep(delay)

    # -- messages ----------------------------------------------------------------------
    def _primary_message(self) -> str:
        quota = self._quota
        left = quota.remaining if quota else 0
        reset = f", resets at {_clock_time(quota.reset)}" if quota else ""
        return f"rate limit: {left} requests left{reset}{self._suffix()}"

    def _pause_message(self, seconds: float) -> str:
        quota = self._quota
        if quota is not None and quota.remaining == 0:
            return self._primary_message()
        budget = max(0.0, self._max_wait - self.waited_s)
        return (
            f"GitHub asked to wait {seconds:.0f}s, over what is left of the "
            f"{self._max_wait:.0f}s wait budget ({budget:.0f}s){self._suffix()}"
        )

    def _suffix(self) -> str:
        progress = self._progress()
        return f"; {progress}" if progress else ""
