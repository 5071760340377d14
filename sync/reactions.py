"""A message's reaction totals after the account adds or removes one (stdlib and ``sync.model`` only).

C7 answers ``{success, messageUrn, emoji, react}`` and nothing more (spec §2, §8): the new totals are worked
out here from the cached ones. Where there is an event stream, ``message.reacted`` brings the server's own
totals afterwards (or before: this is idempotent, so an event that already counted the reaction is not
counted twice).
"""

from __future__ import annotations

from collections.abc import Iterable

from sync.model import Reaction

__all__ = ["toggled_reactions"]


def toggled_reactions(reactions: Iterable[Reaction], emoji: str, react: bool) -> tuple[Reaction, ...]:
    """``reactions`` once the account reacted with ``emoji`` (``react=True``) or took it back.

    Adding a reaction the account already has, or removing one it does not have, changes nothing (the
    totals may already hold the server's answer). The last reaction of an emoji removes its entry; a new
    emoji goes last (the order the server lists them in is kept)."""
    result: list[Reaction] = []
    found = False
    for reaction in reactions:
        if reaction.emoji != emoji:
            result.append(reaction)
            continue
        found = True
        if reaction.reacted_by_owner == react:
            result.append(reaction)
        elif react:
            result.append(Reaction(emoji, reaction.count + 1, True))
        elif reaction.count > 1:
            result.append(Reaction(emoji, reaction.count - 1, False))
    if react and not found:
        result.append(Reaction(emoji, 1, True))
    return tuple(result)
