"""`python -m ragbot`: the same as the `ragbot` command."""

from ragbot.cli import main

main()
