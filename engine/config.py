"""The repository's own configuration: `.opsgrade/config.yml` at the repository root.

It chooses the packs, the required level, exclusions and per-repo overrides, and is
kept apart from service descriptors. It is read through the RepoView, so the gate of a
pull request is decided by the configuration of its base revision.
"""

from __future__ import annotations

import msgspec

from opsgrade.engine import specs
from opsgrade.engine.errors import ConfigError, Located, ParseError
from opsgrade.engine.repoview import RepoView, Unreadable
from opsgrade.engine.validation import convert
from opsgrade.engine.yamlio import YamlDocument, load_document

CONFIG_DIR = ".opsgrade/"
CONFIG_PATHS = (".opsgrade/config.yml", ".opsgrade/config.yaml")


class LoadedConfig(msgspec.Struct, frozen=True):
    spec: specs.RepoConfig
    doc: YamlDocument


def load_config(view: RepoView) -> LoadedConfig | None:
    present = set(view.files())
    path = next((p for p in CONFIG_PATHS if p in present), None)
    if path is None:
        return None
    try:
        doc = load_document(view.read_text(path), path)
    except ParseError as exc:
        raise ConfigError(exc.message, exc.where) from None
    except Unreadable as exc:
        raise ConfigError(f"cannot read: {exc.reason}", Located(path)) from None
    if not isinstance(doc.data, dict):
        raise ConfigError("the repo config is a YAML mapping", Located(path, 1))
    return LoadedConfig(convert(doc, doc.data, specs.RepoConfig), doc)
