"""What the paired A/B benches share: a table of medians and paired ratios, and its files.

``bench.bid_transaction``, ``bench.publish`` and ``bench.notify_worker`` run this checkout
("this") and another ("other") in turns that alternate, and compare each turn with its pair:
on a shared machine only such interleaved ratios are steady enough to tell a 10% change.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def paired_table(runs: dict[str, dict[str, list[dict]]], figures: tuple[str, ...],
                 heading: tuple[str, str], spread: str = "iqr") -> tuple[dict, list[str]]:
    """Per scenario and figure: the medians of both sides and the median of the paired ratios
    (this / other; pairs whose ``other`` is 0 are left out) with their interquartile range
    (``spread="iqr"``) or their whole range (``"range"``). ``heading``: the names of the
    first two columns. Returns (summary, markdown lines)."""
    name = "IQR" if spread == "iqr" else "range"
    summary, lines = {}, [f"| {heading[0]} | {heading[1]} | this | other | "
                          f"paired ratio ({name}) |", "|---|---|---|---|---|"]
    for scenario, by_label in runs.items():
        for figure in figures:
            mine = [r[figure] for r in by_label["this"]]
            theirs = [r[figure] for r in by_label["other"]]
            ratios = sorted(a / b for a, b in zip(mine, theirs, strict=True) if b > 0)
            if not ratios:
                low_high = None
            elif spread == "iqr":
                low_high = [round(ratios[len(ratios) // 4], 3),
                            round(ratios[3 * len(ratios) // 4], 3)]
            else:
                low_high = [round(ratios[0], 3), round(ratios[-1], 3)]
            entry = {"this": round(statistics.median(mine), 3),
                     "other": round(statistics.median(theirs), 3),
                     "ratio": round(statistics.median(ratios), 3) if ratios else None,
                     f"ratio_{spread}": low_high}
            summary[f"{scenario}: {figure}"] = entry
            cell = f"{entry['ratio']} ({low_high[0]}–{low_high[1]})" if ratios else "–"
            lines.append(f"| {scenario} | {figure} | {entry['this']} | {entry['other']} | "
                         f"{cell} |")
    return summary, lines


def run_meta(**facts) -> dict:
    """When, on how many CPUs and at what load a run ended, plus ``facts``."""
    return {"when": datetime.now(UTC).isoformat(), **facts, "cpus": os.cpu_count(),
            "load_average_at_end": os.getloadavg()}


def paired_title(subject: str, meta: dict, turns: str) -> str:
    """``<subject>, paired A/B (<when>, <turns>, load average <x> at the end)``."""
    return (f"{subject}, paired A/B ({meta['when']}, {turns}, load average "
            f"{meta['load_average_at_end'][0]:.1f} at the end)")


def checkouts_named(meta: dict) -> str:
    """"this = `<path>` (<commit>), other = `<path>` (<commit>)": which checkout each side of
    the table ran, and at which commit ("+ changes" when its files differed from it)."""
    return ", ".join(f"{k} = `{v}` ({_commit(v)})" for k, v in meta["checkouts"].items())


def _commit(path: str) -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", path, *args], capture_output=True, text=True,
                              timeout=30).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "not a git checkout"
    return commit + (" + changes" if git("status", "--porcelain", "--untracked-files=no")
                     else "")


def save_paired(name: str, meta: dict, summary: dict, runs: dict, title: str, intro: str,
                lines: list[str]) -> None:
    """Print the table; write ``bench/results/<name>.json`` (meta, summary, every run) and
    ``<name>.md`` (``# title``, ``intro``, the table)."""
    print("\n".join(lines))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(
        {"meta": meta, "summary": summary, "runs": runs}, indent=2))
    (RESULTS / f"{name}.md").write_text(f"# {title}\n\n{intro}\n\n" + "\n".join(lines) + "\n")
