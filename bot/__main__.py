"""Command line: `python -m bot <command>`; see `python -m bot --help`."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import List, Optional

from bot.settings import SettingsError, load_settings, write_env_file, write_key_pair


def _cmd_env(_: argparse.Namespace) -> int:
    if write_env_file():
        print(".env is ready: fresh secrets written where missing")
    else:
        print(".env already complete; left as it is")
    settings = load_settings()
    if write_key_pair(settings.token_private_key_file, settings.token_public_key_file):
        print(f"token key pair created in {settings.token_private_key_file.parent}")
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
                )
            )
    finally:
        engine.dispose()
    return 0


def _cmd_services(_: argparse.Namespace) -> int:
    import uvicorn

    from bot.services.app import create_app

    settings = load_settings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.services_port,
        log_level="warning",
        ws="none",
    )
    return 0


def _cmd_run(_: argparse.Namespace) -> int:
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
    commands.add_parser("services", help="serve the account services only")
    commands.add_parser("run", help="start every part and print where each one is")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {
        "env": _cmd_env,
        "db": _cmd_db,
        "token": _cmd_token,
        "services": _cmd_services,
        "run": _cmd_run,
    }[args.command]
    try:
        return handler(args)
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
