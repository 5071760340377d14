"""A1 ``GET /accounts`` and A2 ``GET /account/status`` (spec §2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sync.sandbox.data import Account
from sync.sandbox.wire import Ctx, Reply, ok

if TYPE_CHECKING:
    from sync.sandbox.app import Sandbox


def account_json(account: Account) -> dict[str, Any]:
    person = account.person
    return {
        "id": account.id,
        "firstName": person.first_name,
        "lastName": person.last_name,
        "publicId": person.public_id,
        "picture": person.picture,
        "status": account.status,
        "enabled": account.enabled,
    }


async def a1_accounts(sb: Sandbox, ctx: Ctx) -> Reply:
    q = (ctx.query.get("q") or "").casefold()
    accounts = [
        account_json(a)
        for a in sb.profile.listed_accounts(sb.store.world)
        if q in a.person.name.casefold() or q in a.person.public_id
    ]
    return ok(accounts)


async def a2_status(sb: Sandbox, ctx: Ctx) -> Reply:
    account = sb.account(ctx, ctx.query.get("accountId"))
    return ok({**account_json(account), "lastUsed": account.last_used, "profileUrn": account.person.urn})
