"""Rule docs, generated from packs: one Markdown page per pack and an index.

`opsgrade packs docs PATH [--out DIR]` renders any pack (or folder of packs);
`python -m opsgrade.engine.docgen`, run from the repository root, renders the built-in
packs into `docs/rules/` with `docs/rules.md` as their index (`--check` only compares
and exits 1 when a file is stale). A test keeps the checked-in copies current, so the
reference never drifts from the packs. Each rule shows a passing and a failing example
taken from the pack's own test cases, so the examples are known to be right.
"""

from __future__ import annotations

import argparse
import posixpath
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from msgspec import Struct

from opsgrade.engine import specs
from opsgrade.engine.errors import ConfigError
from opsgrade.engine.model import Status
from opsgrade.engine.packs import PackSet, PackSource, Rule, builtin_names, load_packs
from opsgrade.engine.packtest import Case, PackTests, load_pack_tests

DEFAULT_INDEX = Path("docs/rules.md")
DEFAULT_PAGES = Path("docs/rules")
INDEX_NAME = "index.md"
COMMAND = "python -m opsgrade.engine.docgen"
MAX_EXAMPLE_LINES = 25
MAX_EXAMPLE_FILES = 4
FENCE_LANGUAGES = {
    ".yml": "yaml",
    ".yaml": "yaml",
    ".json": "json",
    ".toml": "toml",
    ".py": "python",
    ".js": "javascript",
    ".ts": "typescript",
    ".go": "go",
    ".tf": "hcl",
    ".sh": "bash",
    ".md": "markdown",
}


def _code(value: object) -> str:
    return f"`{value}`"


def _either(values: object) -> str:
    items = [_code(v) for v in (values if isinstance(values, list) else [values])]
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def describe_when(when: specs.When | None) -> str:
    """A rule's `when` filter in words."""
    if when is None:
        return "always"
    parts: list[str] = []
    for key in ("tier", "lifecycle", "language", "framework"):
        wanted = getattr(when, key)
        if wanted is not None:
            parts.append(f"{key} is {_either(wanted)}")
    if when.tags is not None:
        parts.append(f"tagged {_either(when.tags)}")
    if when.name is not None:
        parts.append(f"name matches {_either(when.name)}")
    return " and ".join(parts) or "always"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def anchor(rule_id: str) -> str:
    return rule_id.lower()


def _own_rules(packset: PackSet) -> list[Rule]:
    own = packset.packs[-1].name
    mine = [r for r in packset.rules if r.info.pack == own]
    return sorted(mine, key=lambda r: (packset.levels.index(r.info.level), r.source.line))


def _rule_section(rule: Rule) -> list[str]:
    info = rule.info
    facts = [
        ("Level", info.level),
        ("Category", info.category),
        ("Severity", info.severity.value),
        ("Applies when", describe_when(rule.when)),
    ]
    if info.enforce_after is not None:
        facts.append(("Counts from", info.enforce_after.isoformat()))
    if info.weight != 1.0:
        facts.append(("Weight", f"{info.weight:g}"))
    if rule.aliases:
        facts.append(("Aliases", ", ".join(rule.aliases)))
    if info.tags:
        facts.append(("Tags", ", ".join(info.tags)))
    if info.see_also:
        facts.append(("See also", "; ".join(info.see_also)))
    lines = [f'<a id="{anchor(info.id)}"></a>', "", f"### {info.id}: {info.title}", ""]
    lines += [f"- **{name}:** {value}" for name, value in facts]
    lines += ["", info.help, "", f"**Fix:** {info.fix}", ""]
    return lines


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in `text`, so it cannot be closed."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _language(path: str) -> str:
    name = PurePosixPath(path).name
    if name == "Dockerfile" or name.startswith("Dockerfile.") or name.endswith(".Dockerfile"):
        return "dockerfile"
    return FENCE_LANGUAGES.get(PurePosixPath(path).suffix, "")


def _file_block(path: str, content: str) -> list[str]:
    lines = content.splitlines()
    shown = "\n".join(lines[:MAX_EXAMPLE_LINES])
    if len(lines) > MAX_EXAMPLE_LINES:
        shown += f"\n# … {len(lines) - MAX_EXAMPLE_LINES} more lines"
    fence = _fence(shown)
    return [f"`{path}`:", "", f"{fence}{_language(path)}", shown, fence, ""]


def _example(case: Case, tests_label: str) -> list[str]:
    verdict = "passes" if case.expect == Status.PASS else "fails"
    where = ""
    if case.expect == Status.FAIL and case.path:
        where = f" at `{case.path}`" + (f" line {case.line}" if case.line else "")
    lines = [f"**Example: {verdict}{where}** — {_cell(case.name)}", ""]
    if case.repo is not None:
        lines += [f"The repository in `{case.repo.name}/` beside `{tests_label}`, plus:", ""]
    if not case.files:
        lines += ["An empty repository.", ""] if case.repo is None else []
    for path, content in sorted(case.files.items())[:MAX_EXAMPLE_FILES]:
        lines += _file_block(path, content)
    if len(case.files) > MAX_EXAMPLE_FILES:
        lines += [f"… and {len(case.files) - MAX_EXAMPLE_FILES} more files.", ""]
    return lines


def _pick(cases: Sequence[Case], status: Status) -> Case | None:
    """The example for `status`: the smallest inline case, one-service cases first."""
    chosen = [c for c in cases if c.expect == status]
    chosen.sort(key=lambda c: (c.service is not None, c.repo is not None, len(c.files)))
    return chosen[0] if chosen else None


def _examples(rule: Rule, tests: PackTests | None) -> list[str]:
    if tests is None:
        return []
    cases = [c for c in tests.cases if c.rule == rule.id]
    label = posixpath.basename(tests.label.replace("\\", "/"))
    lines: list[str] = []
    for status in (Status.PASS, Status.FAIL):
        case = _pick(cases, status)
        if case is not None:
            lines += _example(case, label)
    return lines


def _rule_page_section(rule: Rule, tests: PackTests | None) -> list[str]:
    return _rule_section(rule) + _examples(rule, tests)


def _pack_page(packset: PackSet, tests: PackTests | None, generated_by: str) -> str:
    pack = packset.packs[-1]
    rules = _own_rules(packset)
    lines = [
        f"# Pack `{pack.name}` (version {pack.version})",
        "",
        f"<!-- Generated by `{generated_by}`. Do not edit by hand. -->",
        "",
    ]
    if pack.description:
        lines += [pack.description.strip(), ""]
    lines.append(f"- **Levels**, lowest first: {' → '.join(packset.levels)}")
    lines.append(f"- **Categories:** {', '.join(packset.categories)}")
    if len(packset.packs) > 1:
        lines.append(f"- **Extends:** {', '.join(p.name for p in packset.packs[:-1])}")
    for disabled in packset.disabled:
        lines.append(f"- **Disables** {disabled.rule}: {disabled.reason}")
    lines += ["", "| Rule | Level | Category | Severity | Title |", "|---|---|---|---|---|"]
    for rule in rules:
        i = rule.info
        lines.append(
            f"| [{i.id}](#{anchor(i.id)}) | {i.level} | {_cell(i.category)} "
            f"| {i.severity.value} | {_cell(i.title)} |"
        )
    lines.append("")
    for rule in rules:
        lines += _rule_page_section(rule, tests)
    return "\n".join(lines).rstrip("\n") + "\n"


class PackDoc(Struct, frozen=True):
    name: str
    rules: int
    description: str
    page: str  # the Markdown text


def render_pack(source: PackSource, generated_by: str) -> PackDoc:
    """One pack's page; examples come from its tests file when it has one."""
    packset = load_packs([source])
    try:
        tests: PackTests | None = load_pack_tests(source)
    except ConfigError as exc:
        if not exc.message.startswith("no tests for pack"):
            raise
        tests = None
    pack = packset.packs[-1]
    page = _pack_page(packset, tests, generated_by)
    return PackDoc(pack.name, len(_own_rules(packset)), pack.description, page)


def render_index(docs: Sequence[PackDoc], prefix: str, title: str, generated_by: str) -> str:
    lines = [
        f"# {title}",
        "",
        f"<!-- Generated by `{generated_by}`. Do not edit by hand. -->",
        "",
        "Every rule of these packs: what it checks, at which level it counts, how to fix a "
        "failure, and an example that passes and one that fails (taken from the pack's own "
        "test cases). `opsgrade rules explain ID` shows the same for any pack.",
        "",
        "| Pack | Rules | Description |",
        "|---|---|---|",
    ]
    for doc in docs:
        first = doc.description.strip().splitlines()[0] if doc.description.strip() else ""
        lines.append(f"| [`{doc.name}`]({prefix}{doc.name}.md) | {doc.rules} | {_cell(first)} |")
    return "\n".join(lines) + "\n"


def render_docs(
    sources: Sequence[PackSource], generated_by: str, prefix: str = ""
) -> tuple[str, list[PackDoc]]:
    """The index and one page per pack; two packs with one name are an error."""
    docs = [render_pack(source, generated_by) for source in sources]
    names = [d.name for d in docs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"two packs are named {', '.join(twice)}; their pages would collide")
    docs.sort(key=lambda d: d.name)
    return render_index(docs, prefix, "Rule reference", generated_by), docs


def builtin_files(root: Path = Path(".")) -> dict[Path, str]:
    """The built-in packs' reference: `docs/rules.md` (index) and `docs/rules/NAME.md`."""
    sources = [PackSource("builtin", n) for n in builtin_names()]
    index, docs = render_docs(sources, COMMAND, prefix=f"{DEFAULT_PAGES.name}/")
    files = {root / DEFAULT_INDEX: index}
    for doc in docs:
        files[root / DEFAULT_PAGES / f"{doc.name}.md"] = doc.page
    return files


def write_files(files: Mapping[Path, str]) -> list[Path]:
    """Write what changed; the paths written."""
    written = []
    for path, text in files.items():
        current = path.read_text("utf-8") if path.is_file() else None
        if current != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text.encode("utf-8"))
            written.append(path)
    return written


def stale(files: Mapping[Path, str], pages: Path) -> list[Path]:
    """Files that differ from `files`, and pages in `pages` no pack generates."""
    out = [
        p for p, text in files.items() if (p.read_text("utf-8") if p.is_file() else None) != text
    ]
    if pages.is_dir():
        out += sorted(p for p in pages.glob("*.md") if p not in files)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    args = parser.parse_args(argv)
    files = builtin_files()
    if args.check:
        for path in stale(files, DEFAULT_PAGES):
            print(f"{path} is stale; run `{COMMAND}`", file=sys.stderr)
        return 1 if stale(files, DEFAULT_PAGES) else 0
    for path in write_files(files):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
