"""The command line every service shares: ``python -m <service> migrate|worker``,
``replay-dead-letters <queue>`` for ops, and the service's own commands (such as
user_service's ``create-admin``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from .bus import create_bus
from .logs import configure_logging
from .migrations import upgrade
from .runtime import Background, ServiceParts


def service_main(
    name: str,
    service_dir: Path,
    load: Callable[[], object],
    build_parts: Callable[[object], ServiceParts],
    argv: list[str] | None = None,
    extra_commands: dict[str, Callable[[object, list[str]], None]] | None = None,
) -> None:
    """Parse the command and run it: ``migrate`` the schema, or run the ``worker`` process
    (outbox relay, consumers and jobs). The web process is ``gunicorn <service>.wsgi:app``.

    ``extra_commands`` maps more command names to ``run(settings, arguments)``, which parses
    the arguments that follow the command itself."""
    extra_commands = {"replay-dead-letters": _replay_dead_letters, **(extra_commands or {})}
    parser = argparse.ArgumentParser(prog=f"python -m {name}")
    parser.add_argument("command", choices=["migrate", "worker", *extra_commands])
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.arguments and args.command not in extra_commands:
        parser.error(f"{args.command} takes no arguments")
    settings = load()
    configure_logging(name, settings.log_level, settings.log_json)
    if args.command in extra_commands:
        extra_commands[args.command](settings, args.arguments)
        return
    if args.command == "migrate":
        upgrade(service_dir, settings.database_url)
        return
    upgrade(service_dir, settings.database_url)
    background = Background(create_bus(settings),
                            relay_batch_wait=settings.relay_batch_wait_ms / 1000)
    background.add_service(build_parts(settings))
    background.run_until_signalled()


def _replay_dead_letters(settings, arguments: list[str]) -> None:
    """``replay-dead-letters <queue>``: move the messages of ``<queue>.dlq`` back to the queue
    (after fixing whatever made them fail)."""
    parser = argparse.ArgumentParser(prog="replay-dead-letters")
    parser.add_argument("queue", help="e.g. notification_service.notify")
    queue = parser.parse_args(arguments).queue
    moved = create_bus(settings).replay_dead_letters(queue)
    print(f"{moved} message(s) moved from {queue}.dlq back to {queue}")
