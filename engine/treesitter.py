"""tree-sitter grammars, loaded on first use from the individual grammar wheels.

`tree-sitter-languages` is not used: it is frozen below tree-sitter 0.22 and ships no
Python 3.13 wheel. Each grammar is its own package (tree-sitter-python, -go, ...); the
module and the function that returns its language pointer are listed here, so adding a
language is one line.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from importlib.machinery import ExtensionFileLoader
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tree_sitter

# Our language name -> (grammar module, function returning the language pointer).
GRAMMARS: dict[str, tuple[str, str]] = {
    "dockerfile": ("tree_sitter_containerfile", "language"),
    "yaml": ("tree_sitter_yaml", "language"),
    "json": ("tree_sitter_json", "language"),
    "toml": ("tree_sitter_toml", "language"),
    "python": ("tree_sitter_python", "language"),
    "go": ("tree_sitter_go", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "ruby": ("tree_sitter_ruby", "language"),
    "java": ("tree_sitter_java", "language"),
    "hcl": ("tree_sitter_hcl", "language"),
    "bash": ("tree_sitter_bash", "language"),
}

_languages: dict[str, tree_sitter.Language] = {}


def _binding(package: str) -> ModuleType:
    """The grammar's compiled `_binding` module, without running the package's
    `__init__`: that imports importlib.resources (5 ms cold) for query files we never
    read. Falls back to a plain import if the layout is not the usual one."""
    spec = importlib.util.find_spec(package)
    folder = (
        spec.submodule_search_locations[0] if spec and spec.submodule_search_locations else None
    )
    if folder is not None:
        for entry in os.listdir(folder):
            if entry.startswith("_binding.") and entry.endswith((".so", ".pyd")):
                loader = ExtensionFileLoader(f"{package}._binding", os.path.join(folder, entry))
                binding = importlib.util.spec_from_loader(loader.name, loader)
                if binding is not None:
                    module = importlib.util.module_from_spec(binding)
                    loader.exec_module(module)
                    return module
    return importlib.import_module(f"{package}._binding")


def language(name: str) -> tree_sitter.Language:
    """The tree-sitter Language for one of GRAMMARS, loaded once per process."""
    found = _languages.get(name)
    if found is None:
        import tree_sitter

        module_name, function = GRAMMARS[name]
        pointer = getattr(_binding(module_name), function)()
        found = _languages[name] = tree_sitter.Language(pointer)
    return found


def parser(name: str) -> tree_sitter.Parser:
    """A new parser for one language (parsers are cheap; languages are cached)."""
    import tree_sitter

    return tree_sitter.Parser(language(name))
