"""Points discord.py at the loopback Discord in a `ragbot run` SUBPROCESS, as FakeDiscord.patch_discord() does in
the test's own process. Python imports `sitecustomize` at start-up from the path: a test that puts this folder on
PYTHONPATH and sets FAKE_DISCORD_API / FAKE_DISCORD_GATEWAY gets a bot that talks to its fake. Only the external
library's two endpoint settings change; nothing of ragbot is touched."""

from __future__ import annotations

import os

if os.environ.get("FAKE_DISCORD_API"):
    import yarl
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    Route.BASE = os.environ["FAKE_DISCORD_API"]
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["FAKE_DISCORD_GATEWAY"])
