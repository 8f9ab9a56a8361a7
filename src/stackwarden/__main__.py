"""`python -m stackwarden` runs the CLI."""

from stackwarden.cli.main import main

if __name__ == "__main__":  # worker processes (forkserver, spawn) import this module again
    main()
