"""`python -m stackwarden` runs the CLI."""

from stackwarden.cli.main import main

main()
