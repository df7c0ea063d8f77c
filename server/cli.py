"""The ``crispin`` command: serve, and administer users and mailboxes."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crispin.server.config import Config, ConfigError, load_config


def _common(parser: argparse.ArgumentParser, default: Any = argparse.SUPPRESS,
            manage: bool = True) -> None:
    """The options every command takes, before or after the subcommand: the main parser
    holds the defaults, subcommands SUPPRESS theirs so they override only when given."""
    parser.add_argument("--config", type=Path, default=default, help="TOML configuration "
                        "file (default: $CRISPIN_CONFIG, else built-in defaults)")
    parser.add_argument("--data-dir", default=default, help="data folder (server.data_dir)")
    if manage:
        parser.add_argument("--create", action="store_true", default=default,
                            help="create the data folder if it does not exist yet (only "
                            "`serve` does so by itself)")


class _Version(argparse.Action):
    """``--version``, its number looked up only when asked: importlib.metadata costs
    0.05-0.15 s, paid by every ``crispin health`` of a container's HEALTHCHECK otherwise."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        print(f"crispin {version()}")
        parser.exit()


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("crispin")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crispin", description="Crispin IMAP server")
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="show the version and exit")
    _common(parser, default=None)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the IMAP server")
    _common(serve, manage=False)
    serve.add_argument("--host", help="address to listen on (server.host)")
    serve.add_argument("--port", type=int, help="plain/STARTTLS port (server.port)")
    serve.add_argument("--tls-port", type=int, help="implicit TLS port (server.tls_port)")
    serve.add_argument("--hostname", help="server name for the certificate (server.hostname)")
    serve.add_argument("--cert", help="TLS certificate chain, PEM (tls.cert)")
    serve.add_argument("--key", help="TLS private key, PEM (tls.key)")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--trace", action="store_true", default=None,
                       help="log every protocol line at debug level (passwords masked)")
    serve.add_argument("--ephemeral", action="store_true",
                       help="keep the data in a temporary folder removed at exit (a clean "
                       "server for one test run)")

    health = sub.add_parser("health", help="exit 0 when the server answers on its IMAP port "
                            "and its database can be read (a container HEALTHCHECK)")
    _common(health, manage=False)

    user = sub.add_parser("user", help="manage users")
    usub = user.add_subparsers(dest="action", required=True)
    for action in ("add", "passwd"):
        p = usub.add_parser(action, help=f"{action} a user")
        _common(p)
        p.add_argument("name")
        p.add_argument("--password-stdin", action="store_true",
                       help="read the password from the first line of standard input")
        if action == "add":
            again = p.add_mutually_exclusive_group()
            again.add_argument("--if-missing", action="store_true",
                               help="a user of that name exists: leave it as it is, exit 0")
            again.add_argument("--update", action="store_true",
                               help="a user of that name exists: set its password, exit 0")
    p = usub.add_parser("delete", help="delete a user and all their mail")
    _common(p)
    p.add_argument("name")
    p = usub.add_parser("list", help="list users")
    _common(p)

    imp = sub.add_parser("import", help="load an mbox file, a Maildir or .eml files into a "
                         "mailbox, keeping the flags and dates the format carries")
    _common(imp)
    imp.add_argument("--user", required=True)
    imp.add_argument("--mailbox", default="INBOX", help="target mailbox (created if absent)")
    imp.add_argument("path", type=Path)

    acl = sub.add_parser("acl", help="see and change who may use a mailbox (RFC 4314)")
    asub = acl.add_subparsers(dest="action", required=True)
    mailbox_help = "USER/NAME for a user's mailbox (alice/Projects), or Shared/NAME"
    p = asub.add_parser("get", help="show a mailbox's access control list")
    _common(p)
    p.add_argument("mailbox", help=mailbox_help)
    p = asub.add_parser("set", help="give an identifier rights (+r adds, -r removes; put "
                        "-- before an argument that starts with '-')")
    _common(p)
    p.add_argument("mailbox", help=mailbox_help)
    p.add_argument("identifier", help="a user name, anyone, or -name for negative rights")
    p.add_argument("rights", help="letters of lrswipkxtea")
    p = asub.add_parser("delete", help="remove an identifier from the list")
    _common(p)
    p.add_argument("mailbox", help=mailbox_help)
    p.add_argument("identifier")

    shared = sub.add_parser("shared", help="mailboxes that belong to no single user")
    ssub = shared.add_subparsers(dest="action", required=True)
    for action in ("create", "delete"):
        p = ssub.add_parser(action, help=f"{action} a shared mailbox")
        _common(p)
        p.add_argument("name")
    p = ssub.add_parser("list", help="list shared mailboxes")
    _common(p)

    quota = sub.add_parser("quota", help="storage and message limits (RFC 9208)")
    qsub = quota.add_subparsers(dest="action", required=True)
    p = qsub.add_parser("get", help="show usage and limits")
    _common(p)
    p.add_argument("root", help="a user name, or Shared/NAME")
    p = qsub.add_parser("set", help="set limits (omit one to leave it unlimited)")
    _common(p)
    p.add_argument("root", help="a user name, or Shared/NAME")
    p.add_argument("--storage", type=int, help="limit in KiB")
    p.add_argument("--messages", type=int, help="limit in messages")

    p = sub.add_parser("check", help="verify the data folder: database integrity, UIDs and "
                       "modseqs, body files, leftovers (exit status 1 if anything is wrong)")
    _common(p)
    p.add_argument("--repair", action="store_true", help="fix what can be fixed")
    p.add_argument("--quick", action="store_true",
                   help="only the cheap checks the server makes at every start")
    p = sub.add_parser("maintenance", help="reclaim what expunged mail left behind (the "
                       "server does it in the background too)")
    _common(p)
    p.add_argument("--vacuum", action="store_true", help="also rewrite the database file "
                   "compactly (holds the write lock meanwhile)")

    mbox = sub.add_parser("mailbox", help="manage a user's mailboxes")
    msub = mbox.add_subparsers(dest="action", required=True)
    p = msub.add_parser("list", help="list a user's mailboxes")
    _common(p)
    p.add_argument("user")
    for action in ("create", "delete"):
        p = msub.add_parser(action, help=f"{action} a mailbox")
        _common(p)
        p.add_argument("user")
        p.add_argument("name")
    p = msub.add_parser("private", help="which flags each user of a shared mailbox keeps "
                        "for themselves (default: seen); without a choice, show it")
    _common(p)
    p.add_argument("mailbox", help=mailbox_help)
    p.add_argument("flags", nargs="?", choices=["none", "seen", "seen+flagged"],
                   help="none: every flag shared; seen: \\Seen per user; seen+flagged: "
                   "\\Seen and \\Flagged per user")
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    server: dict[str, Any] = {"data_dir": args.data_dir}
    overrides: dict[str, dict[str, Any]] = {"server": server}
    if args.command == "serve":
        server.update(host=args.host, port=args.port, tls_port=args.tls_port,
                      hostname=args.hostname)
        overrides["tls"] = {"cert": args.cert, "key": args.key}
        overrides["log"] = {"level": args.log_level, "trace": args.trace}
    return load_config(args.config, overrides=overrides)


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            # e.g. `docker exec` without -i: standard input is empty, not the password
            raise SystemExit("crispin: no password on standard input (empty passwords "
                             "are refused)")
        return password
    first = getpass.getpass("Password: ")
    if not first:
        raise SystemExit("crispin: empty passwords are refused")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("crispin: passwords do not match")
    return first


def missing_data_dir(config: Config, create: bool) -> str | None:
    """Why a management command must not run here, or None. Only `serve` (or --create)
    makes a new data folder: run from the wrong directory, `crispin user add` used to
    create an empty ./crispin-data the server never saw."""
    from crispin.storage import DB_FILE

    if create or (config.data_dir / DB_FILE).exists():
        return None
    return (f"no Crispin data folder at {config.data_dir.resolve()} (no {DB_FILE}): give "
            "--data-dir (or server.data_dir in --config / CRISPIN_SERVER_DATA_DIR), or "
            "--create to start a new one there")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "ephemeral", False):
        if args.data_dir:
            print("crispin: --ephemeral and --data-dir exclude each other", file=sys.stderr)
            return 2
        args.data_dir = tempfile.mkdtemp(prefix="crispin-ephemeral-")
        try:
            return _main(args)
        finally:
            shutil.rmtree(args.data_dir, ignore_errors=True)
    return _main(args)


def _main(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"crispin: {exc}", file=sys.stderr)
        return 2
    level = config.get("log", "level")
    if config.get("log", "trace"):
        level = "debug"
    logging.basicConfig(level=level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for warning in config.warnings:
        logging.getLogger("crispin.config").warning("%s", warning)
    if args.command == "serve":
        from crispin.server.app import serve

        try:
            return asyncio.run(serve(config))
        except ConfigError as exc:  # found at start: a users file, a preload folder
            print(f"crispin: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"crispin: {exc}", file=sys.stderr)
            return 1
    if args.command == "health":
        from crispin.server.health import run

        return run(config)
    if (problem := missing_data_dir(config, bool(args.create))) is not None:
        print(f"crispin: {problem}", file=sys.stderr)
        return 1
    # Which folder was used, on stderr so that standard output stays for the data.
    print(f"crispin: data folder {config.data_dir.resolve()}", file=sys.stderr)
    if args.command in ("check", "maintenance"):
        from crispin.server.admin_maintenance import run_maintenance

        return asyncio.run(run_maintenance(args, config))
    if args.command == "mailbox" and args.action == "private":
        from crispin.server.admin_sharing import run_private_flags

        return asyncio.run(run_private_flags(args, config))
    from crispin.server.admin import run_admin

    return asyncio.run(run_admin(args, config))


if __name__ == "__main__":
    sys.exit(main())
