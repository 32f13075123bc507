"""`pinelab api-token create|list|revoke`: bearer tokens of the read-only insights API."""

from __future__ import annotations

import argparse
from typing import Any

from pinelab_core.cli.common import add_json_option, emit, settings_from_args

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the `api-token` subcommand and its actions."""
    tokens = subparsers.add_parser(
        "api-token", help="create, list or revoke bearer tokens of the insights API",
        description="Tokens for the read-only insights API the sidecar serves under /api/v1 (see docs/api.md). "
        "A token is shown once, when created; the store keeps only its SHA-256. A revoked token stops working "
        "within 5 seconds. Example: pinelab api-token create --name sheets-bot",
    )
    actions = tokens.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    create = actions.add_parser("create", help="create a token and print it (once)")
    create.add_argument("--name", required=True, help="who or what uses it, e.g. sheets-bot (unique)")
    add_json_option(create)
    create.set_defaults(handler=_create)
    listing = actions.add_parser("list", help="every token: name, first characters, created, revoked")
    add_json_option(listing)
    listing.set_defaults(handler=_list)
    revoke = actions.add_parser("revoke", help="revoke a token by name or id")
    revoke.add_argument("token", help="the token's name (or id) from `pinelab api-token list`")
    add_json_option(revoke)
    revoke.set_defaults(handler=_revoke)


def _engine(args: argparse.Namespace) -> Any:
    from pinelab_core.store import get_engine

    return get_engine(settings_from_args(args))


def _create(args: argparse.Namespace) -> int:
    from pinelab_core.api.tokens import create_api_token

    info, token = create_api_token(_engine(args), args.name)
    text = (f"{token}\n"
            f"API token {info.name!r} (id {info.id}) created. Copy it now: it is not shown again.\n"
            f'Use it as: curl -H "Authorization: Bearer {token}" http://127.0.0.1:8787/api/v1/status')
    emit(args, {**_row(info), "token": token}, text)
    return 0


def _list(args: argparse.Namespace) -> int:
    from pinelab_core.api.tokens import list_api_tokens

    tokens = list_api_tokens(_engine(args))
    lines = [f"{'id':>4}  {'name':<24} {'starts':<10} {'created (UTC)':<17} status"]
    lines += [f"{t.id:>4}  {t.name:<24} {t.prefix + '…':<10} {t.created_at:%Y-%m-%d %H:%M}  "
              f"{'active' if t.active else f'revoked {t.revoked_at:%Y-%m-%d %H:%M}'}" for t in tokens]
    if not tokens:
        lines = ["No API tokens. Create one: pinelab api-token create --name <who uses it>"]
    emit(args, [_row(t) for t in tokens], "\n".join(lines))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from pinelab_core.api.tokens import revoke_api_token

    info = revoke_api_token(_engine(args), args.token)
    emit(args, _row(info), f"API token {info.name!r} (id {info.id}) revoked at {info.revoked_at:%Y-%m-%d %H:%M:%S} UTC;"
         " a running sidecar refuses it within 5 seconds.")
    return 0


def _row(info: Any) -> dict[str, Any]:
    return {"id": info.id, "name": info.name, "prefix": info.prefix, "created_at": info.created_at,
            "revoked_at": info.revoked_at, "active": info.active}
