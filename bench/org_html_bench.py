"""The org report's HTML page at scale: render time, page size, and how the page behaves
in Chromium, printed as JSON.

    python bench/org_html_bench.py [--repos 5000] [--runs 5] [--no-browser]

The report is tests/orgdata.py's sample (realistic services, owners, links, campaigns,
five runs of history), saved with msgspec. Each run is a fresh `python -c` process that
loads it, imports reporters/org_html.py and renders (template compiled cold, as `org
report` does it once); the median of the runs is reported, with the in-process render
time. Then the page is opened in /usr/bin/chromium over file://: load time, one search
(typing to the rows being filtered, less the page's 60 ms typing pause) and one sort by
score (click to the next frame), each the median of a few tries.
Budget (issue #6): a 5,000-repository report renders well under 2 s.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from orgdata import CHROMIUM, CHROMIUM_ARGS, sample_report  # noqa: E402

DEBOUNCE_MS = 60  # the page waits this long after a keystroke before it filters
CHILD = """
import sys, time
start = time.perf_counter()
import msgspec
from opsgrade.engine.org.model import OrgReport
with open(sys.argv[1], "rb") as fh:
    report = msgspec.msgpack.decode(fh.read(), type=OrgReport)
loaded = time.perf_counter()
from opsgrade.reporters.org_html import render_html
page = render_html(report)
done = time.perf_counter()
with open(sys.argv[2], "w", encoding="utf-8") as fh:
    fh.write(page)
print(round((done - loaded) * 1000, 1))
"""

SEARCH = """async (query) => {
  const input = document.getElementById("catalog-q");
  const status = document.getElementById("catalog-count");
  const before = status.textContent;
  const t0 = performance.now();
  input.value = query;
  input.dispatchEvent(new Event("input"));
  await new Promise((resolve) => {
    const seen = new MutationObserver(() => { seen.disconnect(); resolve(); });
    seen.observe(status, {childList: true, characterData: true, subtree: true});
  });
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve)));
  return [performance.now() - t0, before, status.textContent];
}"""

SORT = """async (column) => {
  const button = document.querySelector(`#catalog-table thead th:nth-child(${column}) button`);
  const t0 = performance.now();
  button.click();
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve)));
  return performance.now() - t0;
}"""


def render_runs(saved: Path, out: Path, runs: int) -> dict[str, float]:
    walls, inner = [], []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(saved), str(out)],
            capture_output=True,
            check=True,
            text=True,
        )
        walls.append((time.perf_counter() - start) * 1000)
        inner.append(float(proc.stdout.strip()))
    return {
        "process_median_ms": round(statistics.median(walls), 1),
        "render_median_ms": round(statistics.median(inner), 1),
        "render_max_ms": round(max(inner), 1),
    }


def browser(page_file: Path, tries: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        loads, searches, sorts = [], [], []
        errors: list[str] = []
        for _ in range(tries):
            page = chromium.new_page(viewport={"width": 1360, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            start = time.perf_counter()
            page.goto(page_file.as_uri(), wait_until="load")
            loads.append((time.perf_counter() - start) * 1000)
            elapsed, _, after = page.evaluate(SEARCH, "python gold")
            searches.append(elapsed - DEBOUNCE_MS)
            sorts.append(page.evaluate(SORT, 8))
            page.close()
        chromium.close()
    return {
        "load_median_ms": round(statistics.median(loads), 1),
        "search_median_ms": round(statistics.median(searches), 1),
        "search_result": after,
        "sort_median_ms": round(statistics.median(sorts), 1),
        "console_errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()

    report = sample_report(args.repos)
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "report.msgpack"
        saved.write_bytes(msgspec.msgpack.encode(report))
        page_file = Path(tmp) / "index.html"
        result: dict[str, Any] = {
            "repos": report.summary.repos,
            "services": report.summary.services,
            "python": platform.python_version(),
            **render_runs(saved, page_file, args.runs),
        }
        body = page_file.read_bytes()
        result["page_bytes"] = len(body)
        result["page_gzip_bytes"] = len(gzip.compress(body))
        if not args.no_browser:
            result["chromium"] = browser(page_file, args.tries)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
