from opsgrade.engine.cli import main

main()
