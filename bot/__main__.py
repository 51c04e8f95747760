"""Command line: `python -m bot <command>`; see `python -m bot --help`."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import List, Optional

from bot.settings import (
    MAX_HEADER_BYTES,
    SettingsError,
    load_settings,
    write_env_file,
    write_key_pair,
)


def _cmd_env(_: argparse.Namespace) -> int:
    # Silent when nothing changes: `TOKEN=$(make -s token ...)` runs this first.
    if write_env_file():
        print(".env is ready: fresh secrets written where missing", file=sys.stderr)
    settings = load_settings()
    if write_key_pair(settings.token_private_key_file, settings.token_public_key_file):
        where = settings.token_private_key_file.parent
        print(f"token key pair created in {where}", file=sys.stderr)
    return 0


def _cmd_db(args: argparse.Namespace) -> int:
    from bot.services.db import create_engine, migrate
    from bot.services.seed import seed

    settings = load_settings()
    migrate(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        if args.no_seed:
            print("database migrated")
        elif seed(engine):
            print("database migrated and seeded with the demo world")
        else:
            print("database migrated; demo world already present")
    finally:
        engine.dispose()
    return 0


def _cmd_token(args: argparse.Namespace) -> int:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from bot import tokens
    from bot.accounts import choose_membership
    from bot.services import models as m
    from bot.services.db import create_engine

    settings = load_settings()
    if settings.production:
        print("refused: demo tokens are not minted in production", file=sys.stderr)
        return 2
    engine = create_engine(settings.database_url)
    try:
        with Session(engine) as session:
            user = session.scalar(select(m.User).filter_by(email=args.email.lower()))
            if user is None:
                print(f"no user with email {args.email}", file=sys.stderr)
                return 1
            memberships = list(
                session.scalars(
                    select(m.Membership)
                    .filter_by(user_id=user.id, status="active")
                    .order_by(m.Membership.id)
                )
            )
            chosen: Optional[m.Membership] = memberships[0] if memberships else None
            if args.account:
                chosen = choose_membership(args.account, memberships)
                if chosen is None:
                    names = ", ".join(ms.account.name for ms in memberships) or "none"
                    print(
                        f"{args.email} has no account {args.account!r} (theirs: {names})",
                        file=sys.stderr,
                    )
                    return 1
            print(
                tokens.mint_token(
                    settings.token_signing_key(),
                    user_id=user.id,
                    account_id=chosen.account_id if chosen else None,
                    channel=args.channel,
                    language=user.language,
                    ttl=dt.timedelta(minutes=args.minutes or settings.token_ttl_minutes),
                    # A sign-in: a new session, and no token of it outlives its maximum.
                    max_session=settings.session_max,
                )
            )
    finally:
        engine.dispose()
    return 0


def _cmd_services(args: argparse.Namespace) -> int:
    import uvicorn

    settings = load_settings()
    # Several workers need the app by name (each worker process builds its own).
    uvicorn.run(
        "bot.services.app:create_app_from_settings",
        factory=True,
        workers=args.workers,
        host=settings.host,
        port=settings.services_port,
        log_level="warning",
        ws="none",
        # h11 bounds a request's head (httptools takes megabytes of headers): over it, a 400.
        http="h11",
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
    )
    return 0


def _cmd_actions(_: argparse.Namespace) -> int:
    from bot.action_server import serve

    serve(load_settings())
    return 0


def _cmd_assistant(args: argparse.Namespace) -> int:
    from bot import assistant

    assistant.serve(load_settings(), Path(args.model), Path(args.endpoints))
    return 0


def _cmd_prune(args: argparse.Namespace) -> int:
    from bot import retention

    settings = load_settings()
    days = (
        settings.conversation_retention_days
        if args.older_than_days is None
        else args.older_than_days
    )
    if days < 1:
        print("refused: the retention period must be at least 1 day", file=sys.stderr)
        return 2
    result = retention.run(settings.tracker_store_url, older_than_days=days, dry_run=args.dry_run)
    print(retention.describe(result, days))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    if args.prod:
        from bot.production import run_production

        return run_production(seed_demo=not args.no_seed)
    from bot.run import run_all

    return run_all(load_settings())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("env", help="create .env with fresh secrets if it is missing")
    db = commands.add_parser("db", help="migrate the database and seed the demo world")
    db.add_argument("--no-seed", action="store_true", help="migrate only")
    token = commands.add_parser("token", help="print a demo identity token (not in production)")
    token.add_argument("email")
    token.add_argument("--account", help="account name (a prefix is enough)")
    token.add_argument("--channel", default="cli", choices=["portal", "slack", "api", "cli"])
    token.add_argument("--minutes", type=int, help="lifetime (default: TOKEN_TTL_MINUTES)")
    services = commands.add_parser("services", help="serve the account services only")
    services.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    commands.add_parser("actions", help="serve the action server only (answers Rasa alone)")
    serve = commands.add_parser("assistant", help="serve the Rasa server only")
    serve.add_argument("--model", required=True, help="the trained model (.tar.gz)")
    serve.add_argument("--endpoints", required=True, help="Rasa's endpoints file")
    run = commands.add_parser("run", help="start every part and print where each one is")
    run.add_argument(
        "--prod",
        action="store_true",
        help="production mode on this machine: PostgreSQL, Redis, 2 Rasa replicas, nginx",
    )
    run.add_argument(
        "--no-seed", action="store_true", help="with --prod: do not add the demo world"
    )
    prune = commands.add_parser(
        "prune-conversations",
        help="delete conversations whose last event is older than the retention period",
    )
    prune.add_argument(
        "--older-than-days",
        type=int,
        help="the retention period in days (default: CONVERSATION_RETENTION_DAYS, 90)",
    )
    prune.add_argument("--dry-run", action="store_true", help="count only; delete nothing")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {
        "env": _cmd_env,
        "db": _cmd_db,
        "token": _cmd_token,
        "services": _cmd_services,
        "actions": _cmd_actions,
        "assistant": _cmd_assistant,
        "run": _cmd_run,
        "prune-conversations": _cmd_prune,
    }[args.command]
    try:
        return handler(args)
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
