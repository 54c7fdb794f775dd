from opsgrade.engine.cli import entry

entry()
