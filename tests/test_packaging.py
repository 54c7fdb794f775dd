"""Every Python folder under the mapped roots is a package the wheel ships."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    mapping = {folder: name for name, folder in config["package-dir"].items()}
    listed = set(config["packages"])
    found = set()
    for folder, name in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *rel.parts]) if rel.parts else name)
    assert found == listed, f"not listed: {found - listed}; listed but missing: {listed - found}"


def test_no_module_shadows_a_data_folder() -> None:
    # `schemas.py` beside `schemas/` once made setuptools warn and confused imports.
    for folder in ("engine", "reporters", "rules"):
        for path in (ROOT / folder).rglob("*.py"):
            assert not path.with_suffix("").is_dir(), f"{path} shadows a folder"
