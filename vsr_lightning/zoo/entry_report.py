"""A zoo entry's report: what it is, the command that retrains it, and what it measured, as Markdown.

Every recipe publishes through ``publish``, which writes this report to ``experiments/<folder>/zoo_entry.md``
of the checkout it runs in, beside the experiment reports of the entries trained through ``run.py``.
``python -m vsr_lightning.zoo.entry_report [NAME ...]`` renders it again from ``manifest.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from vsr_lightning.zoo import registry

EXPERIMENTS = registry.ZOO_DIR.parents[1] / "experiments"
REPORT_NAME = "zoo_entry.md"
FOLDERS = {
    "stage1-embedded": "zoo_stage1",
    "stage2-embedded": "zoo_stage2",
    "denoise-embedded": "zoo_denoise",
    "spynet": "zoo_spynet",
}


def report_folder(name: str) -> str:
    """``experiments/`` sub-folder of an entry: ``zoo_<name>`` unless listed in ``FOLDERS``."""
    return FOLDERS.get(name, f"zoo_{name}")


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        rows: list[tuple[str, Any]] = []
        for key in sorted(value):
            rows += _flatten(value[key], f"{prefix} / {key}" if prefix else str(key))
        return rows
    return [(prefix, value)]


def _cell(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value).replace("|", "\\|")


def entry_markdown(name: str, entry: dict[str, Any]) -> str:
    """The report of ``zoo:<name>`` from its manifest entry."""
    facts = {k: v for k, v in entry.items() if k not in ("architecture", "metrics", "recipe")}
    lines = [
        f"# zoo:{name}",
        "",
        "Rendered from the entry in `vsr_lightning/zoo/manifest.json`, which the recipe below wrote when it "
        f"published the weights (`python -m vsr_lightning.zoo.entry_report {name}` renders it again).",
        "",
        "## Retrain it from scratch",
        "",
        "```bash",
        str(entry.get("recipe", "(no recipe recorded)")).strip(),
        "```",
        "",
        "## Entry",
        "",
        "| field | value |",
        "|:---|:---|",
        *(f"| {key} | {_cell(value)} |" for key, value in _flatten(facts)),
        "",
        "## Architecture",
        "",
        "```json",
        json.dumps(entry.get("architecture", {}), indent=1, sort_keys=True),
        "```",
        "",
        "## Measured (held-out or validation data only; the entry never trained on them)",
        "",
        "| metric | value |",
        "|:---|---:|",
        *(f"| {key} | {_cell(value)} |" for key, value in _flatten(entry.get("metrics", {}))),
        "",
    ]
    return "\n".join(lines)


def write_entry_report(name: str, entry: dict[str, Any], experiments: Path | None = None) -> Path | None:
    """Write the report into ``experiments/`` of a checkout; None where there is none (an installed package)."""
    experiments = EXPERIMENTS if experiments is None else experiments
    if not experiments.is_dir():
        return None
    path = experiments / report_folder(name) / REPORT_NAME
    path.parent.mkdir(exist_ok=True)
    path.write_text(entry_markdown(name, entry))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the reports of zoo entries from the zoo's manifest.")
    parser.add_argument("names", nargs="*", help="entries (default: all)")
    args = parser.parse_args(argv)
    names = args.names or sorted(json.loads(registry.MANIFEST.read_text()))
    for name in names:
        try:
            entry = registry.zoo_entry(name)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(write_entry_report(name.removeprefix(registry.ZOO_PREFIX), entry) or f"{name}: no experiments/ folder")
    return 0


if __name__ == "__main__":
    sys.exit(main())
