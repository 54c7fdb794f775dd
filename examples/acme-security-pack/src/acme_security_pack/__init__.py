"""ACME's opsgrade rule pack: the pack is `acme-security.yml` beside this module.

opsgrade finds it through the `opsgrade.packs` entry point named `acme-security`; the
tests (`acme-security.tests.yml`) and the command check's program (`checks/`) ship as
package data with it.
"""

from pathlib import Path

PACK_FILE = Path(__file__).with_name("acme-security.yml")
