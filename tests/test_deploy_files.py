"""The Dockerfile, docker-compose.yml, .env.example and the lock file, checked against the code: no Docker engine
runs here, so this is what keeps them honest. Every RAGBOT_ variable they set is a real setting, every path
they copy exists, every ragbot command they run is a real command."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from typing import Any

import pytest
import typer
import yaml
from helpers import REPO

from rag.config import DiscordSettings
from rag.settings_env import setting_names
from ragbot.cli import app

_VARIABLE = re.compile(r"\b(RAGBOT_[A-Z0-9_]+)=")


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


def _exec_form(arguments: str) -> list[str]:
    return json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)


def _is_ragbot_command(argv: list[str]) -> bool:
    """argv names an existing `ragbot` (sub)command, with options it accepts."""
    if not argv or argv[0] != "ragbot":
        return False
    command: Any = typer.main.get_command(app)
    words = [w for w in argv[1:] if not w.startswith("-")]
    while hasattr(command, "commands"):  # a group: the next word names one of its commands
        command = command.commands.get(words.pop(0)) if words else None
        if command is None:
            return False
    accepted = {name for param in command.params for name in (*param.opts, *param.secondary_opts)} | {"--help"}
    return all(w.split("=")[0] in accepted for w in argv[1:] if w.startswith("-"))


def test_every_variable_set_is_a_setting() -> None:
    known = setting_names()
    dockerfile_env = " ".join(args for instruction, args in _dockerfile() if instruction in ("ENV", "RUN"))
    services = _compose()["services"].values()
    compose_env = [name for s in services for name in s.get("environment", {}) if name.startswith("RAGBOT_")]
    example = _VARIABLE.findall((REPO / ".env.example").read_text())  # commented-out lines too
    used = set(_VARIABLE.findall(dockerfile_env)) | set(compose_env) | set(example)
    assert {"RAGBOT_DATA_DIR", "RAGBOT_CHROMA__HOST", "RAGBOT_DATABASE__URL", "RAGBOT_LLM__PROVIDER"} <= used
    assert used - known == set()


def test_env_example_leaves_the_data_folder_to_the_image() -> None:
    active = [line for line in (REPO / ".env.example").read_text().splitlines() if not line.startswith("#")]
    assert not [line for line in active if line.startswith(("RAGBOT_DATA_DIR=", "RAGBOT_CORPUS_DIR="))]


def test_copied_paths_exist_and_eval_is_included() -> None:
    copied = []
    for instruction, args in _dockerfile():
        if instruction == "COPY" and "--from=" not in args:
            copied += args.split()[:-1]
    assert "eval" in [c.rstrip("/") for c in copied] and "requirements.lock" in copied
    assert [c for c in copied if not (REPO / c).exists()] == []


def test_commands_are_real_ragbot_commands() -> None:
    steps = _dockerfile()
    run_args = [_exec_form(args) for instruction, args in steps if instruction == "CMD"]
    health = [args.split("CMD", 1)[1].strip() for instruction, args in steps if instruction == "HEALTHCHECK"]
    builds = [part.strip() for instruction, args in steps if instruction == "RUN" for part in args.split("&&")]
    commands = run_args + [_exec_form(h) for h in health] + [shlex.split(b) for b in builds if b.startswith("ragbot")]
    bot = _compose()["services"]["bot"]
    commands.append(bot["healthcheck"]["test"][1:])
    assert ["ragbot", "run"] in commands and ["ragbot", "ingest"] in commands and len(health) == 1
    assert [c for c in commands if not _is_ragbot_command(c)] == []
    assert not _is_ragbot_command(["ragbot", "serve"]) and not _is_ragbot_command(["ragbot", "faq"])
    assert not _is_ragbot_command(["ragbot", "ask", "--jsn"]) and _is_ragbot_command(["ragbot", "faq", "export"])


def test_compose_services_are_healthy_before_the_bot_starts() -> None:
    services = _compose()["services"]
    assert set(services) == {"bot", "db", "chroma"}
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
        assert service["volumes"], name  # each keeps its data in a volume
    assert services["bot"]["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "chroma": {"condition": "service_healthy"},
    }
    url = services["bot"]["environment"]["RAGBOT_DATABASE__URL"]
    assert url.startswith("postgresql+asyncpg://") and "@db:5432/" in url
    assert services["bot"]["environment"]["RAGBOT_CHROMA__HOST"] == "chroma"
    port = services["bot"]["environment"]["RAGBOT_CHROMA__PORT"]
    assert f'--port", "{port}' in json.dumps(services["chroma"]["command"]) and port in str(
        services["chroma"]["healthcheck"]["test"]
    )


@pytest.mark.parametrize("requirement", tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"])
def test_the_lock_pins_every_dependency(requirement: str) -> None:
    name = re.split(r"[<>=\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")
    pins = {
        line.split("==")[0].lower().replace("_", "-").replace(".", "-")
        for line in (REPO / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    assert name in pins


# --- deploy/docker-compose.scale.yml: two bot processes (one shard each), PostgreSQL, chroma, Prometheus ----------
SCALE = REPO / "deploy" / "docker-compose.scale.yml"


def _scale() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SCALE.read_text())
    return loaded


def _bots(services: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Each bot service's environment (the services that run `ragbot run`, the image's default command)."""
    return {name: s["environment"] for name, s in services.items() if name.startswith("bot-")}


def test_scale_compose_sets_only_real_settings_and_runs_real_commands() -> None:
    services = _scale()["services"]
    used = {name for s in services.values() for name in s.get("environment", {}) if name.startswith("RAGBOT_")}
    assert used - setting_names() == set() and "RAGBOT_DISCORD__SHARD_IDS" in used
    commands = [s["command"] for s in services.values() if s.get("command", ["x"])[0] == "ragbot"]
    assert commands == [["ragbot", "ingest"]] and all(_is_ragbot_command(c) for c in commands)
    assert services["chroma"]["command"] == _compose()["services"]["chroma"]["command"]


def test_scale_compose_shards_cover_every_shard_once() -> None:
    bots = _bots(_scale()["services"])
    assert len(bots) == 2
    counts = {env["RAGBOT_DISCORD__SHARD_COUNT"] for env in bots.values()}
    assert len(counts) == 1
    count = int(counts.pop())
    ids = [
        DiscordSettings(shard_count=count, shard_ids=json.loads(e["RAGBOT_DISCORD__SHARD_IDS"])) for e in bots.values()
    ]
    assert sorted(i for s in ids for i in s.shard_ids) == list(range(count))  # each shard served exactly once


def test_scale_compose_bots_share_the_index_and_keep_their_own_disk() -> None:
    services = _scale()["services"]
    bots = _bots(services)
    shared = ("RAGBOT_DATABASE__URL", "RAGBOT_CHROMA__HOST", "RAGBOT_CHROMA__PORT")
    for name in shared:  # the ingest and every bot: one catalog, one vector store
        assert len({env[name] for env in [*bots.values(), services["ingest"]["environment"]]}) == 1, name
    url = services["ingest"]["environment"]["RAGBOT_DATABASE__URL"]
    assert url.startswith("postgresql+asyncpg://") and "@db:5432/" in url  # PostgreSQL: the catalog is shared
    volumes = [services[name]["volumes"][0].split(":")[0] for name in bots]
    assert len(set(volumes)) == len(bots)  # each process has its own data folder, as on separate hosts
    for name in bots:
        assert services[name]["depends_on"] == {
            "db": {"condition": "service_healthy"},
            "chroma": {"condition": "service_healthy"},
            "ingest": {"condition": "service_completed_successfully"},
        }


def test_prometheus_scrapes_every_bot_where_it_serves_metrics() -> None:
    services = _scale()["services"]
    mount = services["prometheus"]["volumes"][0].split(":")
    config = yaml.safe_load((SCALE.parent / mount[0]).read_text())
    assert mount[1] == "/etc/prometheus/prometheus.yml"
    targets = {t for job in config["scrape_configs"] for c in job["static_configs"] for t in c["targets"]}
    served = set()
    for name, env in _bots(services).items():
        assert env["RAGBOT_METRICS__HOST"] == "0.0.0.0"  # reachable from the Prometheus container
        served.add(f"{name}:{env['RAGBOT_METRICS__PORT']}")
        health = " ".join(services[name]["healthcheck"]["test"])
        assert f"127.0.0.1:{env['RAGBOT_METRICS__PORT']}/readyz" in health
    assert targets == served
