"""`--format text`: what a person reads at a glance in a terminal or a CI log."""

from __future__ import annotations

from collections import Counter

from opsgrade.engine.model import CheckResult, Comparison, RunResult, ServiceReport, Status
from opsgrade.engine.scorecard import level_index
from opsgrade.reporters import RenderOptions
from opsgrade.reporters.escape import plain

_CODES = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "dim": "2", "bold": "1"}
LEVEL_COLORS = ("yellow", "blue", "green")


class _Paint:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, *styles: str) -> str:
        if not self.enabled or not styles:
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"


def _where(result: CheckResult) -> str:
    if not result.path:
        return ""
    return f"{plain(result.path)}:{result.line}" if result.line else plain(result.path)


class TextReporter:
    def render(self, run: RunResult, options: RenderOptions) -> str:
        paint = _Paint(options.color)
        lines: list[str] = []
        packs = ", ".join(f"{p.name} {p.version}" for p in run.packs)
        rev = f" @ {run.revision[:12]}" if run.revision else ""
        lines.append(paint(f"opsgrade · {plain(run.repository)}{rev} · {packs}", "dim"))
        for report in run.services:
            lines.append("")
            lines.extend(self._service(report, run, paint))
        if run.comparison is not None:
            lines.append("")
            lines.extend(self._comparison(run.comparison, run, paint))
        if run.config_errors:
            lines.append("")
            lines.append(paint("configuration errors:", "red", "bold"))
            for note in run.config_errors:
                where = f"{plain(note.path)}:{note.line}" if note.line else plain(note.path)
                lines.append(f"  {where}: {plain(note.message)}")
        if run.notes:
            lines.append("")
            lines.append(paint("notes:", "dim"))
            for note in run.notes:
                where = f"{plain(note.path)}:{note.line}" if note.line else plain(note.path)
                lines.append(paint(f"  {where}: {plain(note.message)}", "dim"))
        lines.append("")
        lines.append(self._summary(run, options, paint))
        return "\n".join(lines) + "\n"

    def _level(self, level: str | None, run: RunResult, paint: _Paint) -> str:
        if level is None:
            return paint("no level", "red")
        index = level_index(level, run.levels)
        color = LEVEL_COLORS[min(index * len(LEVEL_COLORS) // max(len(run.levels), 1), 2)]
        return paint(level, color, "bold")

    def _service(self, report: ServiceReport, run: RunResult, paint: _Paint) -> list[str]:
        svc, card = report.service, report.scorecard
        head = [paint(plain(svc.name), "bold"), self._level(card.level, run, paint)]
        head.append(f"score {card.score:.0%}")
        if svc.owner:
            head.append(f"owner {plain(svc.owner)}")
        where = svc.descriptor or (svc.root or ".")
        out = ["  ".join(head) + paint(f"  ({plain(where)})", "dim")]
        cats = [f"{plain(c)}: {self._level(lvl, run, paint)}" for c, lvl in card.categories.items()]
        if cats:
            out.append("  " + "   ".join(cats))
        if card.next_level and card.blockers:
            out.append(f"  to reach {self._level(card.next_level, run, paint)}:")
            for blocker in card.blockers:
                # An error is not a finding: the check could not decide (a broken file).
                mark = "!" if blocker.status == Status.ERROR else "✗"
                out.extend(self._finding(blocker, run, paint, mark, "red"))
        errors = [r for r in report.results if r.status == Status.ERROR and r not in card.blockers]
        if errors:
            out.append("  " + paint("errors:", "red"))
            for result in errors:
                out.extend(self._finding(result, run, paint, "!", "red"))
        pending = [r for r in report.results if not r.counting and r.status == Status.FAIL]
        if pending:
            out.append("  " + paint("upcoming (not counted yet):", "yellow"))
            for result in pending:
                out.extend(self._finding(result, run, paint, "…", "yellow"))
        waived = [r for r in report.results if r.status == Status.WAIVED]
        if waived:
            spelled = ", ".join(f"{r.rule} ({plain(r.waiver, 80)})" for r in waived)
            out.append(paint(f"  waived: {spelled}", "dim"))
        return out

    def _finding(
        self, result: CheckResult, run: RunResult, paint: _Paint, mark: str, color: str
    ) -> list[str]:
        info = run.rules.get(result.rule)
        title = info.title if info else result.rule
        when = ""
        if info and info.enforce_after and not result.counting:
            when = f" (counts from {info.enforce_after.isoformat()})"
        line = f"    {paint(mark, color)} {paint(result.rule, 'bold')} {plain(title)}{when}"
        where = _where(result)
        out = [line + (f"  {paint(where, 'dim')}" if where else "")]
        out.append(f"      {plain(result.message, 200)}")
        if result.waiver:
            out.append(f"      {plain(result.waiver, 200)}")
        if info and info.fix:
            out.append(paint(f"      fix: {plain(info.fix, 200)}", "dim"))
        return out

    def _comparison(self, comparison: Comparison, run: RunResult, paint: _Paint) -> list[str]:
        base = comparison.base[:12] if len(comparison.base) == 40 else comparison.base
        out = [paint(f"compared with {plain(base)}:", "bold")]
        if comparison.config_changed:
            out.append(
                paint(
                    "  this change edits .opsgrade/: judged by the base's config and packs",
                    "yellow",
                )
            )
        arrows = {"up": "▲", "down": "▼", "same": "", "added": "(new)", "removed": "(removed)"}
        for change in comparison.services:
            before = self._level(change.base_level, run, paint) if change.change != "added" else ""
            after = self._level(change.head_level, run, paint) if change.change != "removed" else ""
            moved = (
                f"{before} → {after}" if before and after and before != after else after or before
            )
            arrow = arrows[change.change]
            arrow = paint(arrow, "red" if change.change == "down" else "green") if arrow else ""
            counts = (
                f"{len(change.new_failures)} new, {len(change.fixed)} fixed,"
                f" {len(change.unchanged)} unchanged"
            )
            out.append(
                f"  {paint(plain(change.name), 'bold')}  {moved} {arrow}  {paint(counts, 'dim')}"
            )
            for result in change.new_failures:
                out.extend(self._finding(result, run, paint, "+", "red"))
            for result in change.fixed:
                where = _where(result)
                out.append(
                    paint(f"    - {result.rule} fixed" + (f"  {where}" if where else ""), "green")
                )
        verdict = "regressed" if comparison.regressed else "no regressions"
        out.append(paint(f"  {verdict}", "red" if comparison.regressed else "green"))
        return out

    def _summary(self, run: RunResult, options: RenderOptions, paint: _Paint) -> str:
        counts = Counter(r.scorecard.level for r in run.services)
        parts = [f"{len(run.services)} service{'s' if len(run.services) != 1 else ''}"]
        for level in reversed(run.levels):
            if counts.get(level):
                parts.append(f"{counts[level]} {level}")
        if counts.get(None):
            parts.append(f"{counts[None]} with no level")
        summary = " · ".join(parts)
        verdict = options.verdict
        if verdict is None:
            return summary
        if verdict.passed:
            return f"{summary} — {paint('passed', 'green')}"
        reasons = "; ".join(plain(r) for r in verdict.reasons)
        return f"{summary} — {paint('failed', 'red', 'bold')}: {reasons}"
