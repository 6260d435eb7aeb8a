"""The entry points: the `ragbot` command, terminal rendering, doctor, the wiring and the bot runner."""
