"""A mint claim in the shared token store: hosts that start together make one IMS request.

Hosts share no lock, only the store (an Airflow Variable), whose writes are last-writer-wins.
Before minting, a host that found no token in the store writes a claim under a key of its own
(:func:`claim_key`): a random owner id and the time, nothing secret. It waits a short settle
delay, reads the claim back, waits once more and mints only if the claim is still its own both
times (and no token came meanwhile); the last writer of a burst wins, everyone else waits for
the winner's token to appear in the store. Two hosts mint only if one writes its claim more
than two settle delays after it read the store empty (a store write slower than that).

Never a hang or a failure because of the claim: a store error, a claim that does not parse, or
a wait longer than :attr:`ClaimTiming.wait` (the owner died or IMS is slow) ends in a mint, as
without the claim. Nothing here imports Airflow.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from airflow_provider_firefly.client.access_token import AccessToken, finite_number
from airflow_provider_firefly.client.shared_store import SharedTokenStore

__all__ = ["CLAIM_KEY_PREFIX", "DEFAULT_TIMING", "ClaimTiming", "MintClaim", "claim_key"]

CLAIM_KEY_PREFIX: Final = "claim_"
"""Claim keys are ``claim_<cache key>``: they differ from every token key (a hex digest) in the
first characters, so a store that shortens keys (the Variable store keeps 32) keeps them apart."""

_MAX_CLAIM_TEXT: Final = 256


@dataclass(frozen=True)
class ClaimTiming:
    """How long to settle, poll and wait (seconds).

    :param settle: between writing the claim and reading it back: longer than a store round
        trip under load, so that every host of a burst has written before the first reads back.
    :param poll: between two looks at the store while another host mints.
    :param wait: longest wait for another host's token before minting anyway.
    :param fresh_for: a claim older than this is abandoned (its owner died) and is overwritten.
    """

    settle: float = 0.5
    poll: float = 0.2
    wait: float = 10.0
    fresh_for: float = 15.0


DEFAULT_TIMING = ClaimTiming()


def claim_key(cache_key: str) -> str:
    """The store key of the mint claim for a token key."""
    return f"{CLAIM_KEY_PREFIX}{cache_key}"


class _StoreFailed(Exception):
    """The store could not be read or written: give up the claim and mint."""


class MintClaim:
    """One attempt to obtain a token through the claim protocol (see the module documentation).

    :param store: the shared store.
    :param cache_key: the token's key in the store.
    :param clock: epoch seconds, written into the claim and used to judge its age.
    :param logger: where to log (owner ids and timings only).
    :param on_store_error: called with (action, exception) when the store fails.
    """

    def __init__(
        self,
        store: SharedTokenStore,
        cache_key: str,
        *,
        clock: Callable[[], float] = time.time,
        logger: logging.Logger,
        on_store_error: Callable[[str, Exception], None],
        timing: ClaimTiming | None = None,
    ) -> None:
        self._store = store
        self._key = claim_key(cache_key)
        self._clock = clock
        self._log = logger
        self._on_store_error = on_store_error
        self._timing = timing or DEFAULT_TIMING
        self.owner = secrets.token_hex(8)  # tells claims apart; not a secret

    def obtain(
        self, read_token: Callable[[], AccessToken | None], mint: Callable[[], AccessToken]
    ) -> AccessToken:
        """A token from the store written by the claim's winner, or one minted here.

        :param read_token: a usable token from the store, or None (called after each wait).
        :param mint: mints and stores a token; its errors propagate.
        """
        timing = self._timing
        started = time.monotonic()
        deadline = started + timing.wait
        waited = claimed = False
        confirmed = 0  # consecutive reads that found our own claim
        while True:
            if waited:
                token = read_token()
                if token is not None:
                    if claimed:  # the token came while we claimed: leave no claim behind
                        self._release()
                    self._log.info(
                        "Firefly access token %s minted by another host (mint claim in the "
                        "shared store), taken after %.2f s",
                        token.fingerprint,
                        time.monotonic() - started,
                    )
                    return token
            if time.monotonic() >= deadline:
                self._log.warning(
                    "Waited %.0f s for another host to mint the Firefly token (its mint claim "
                    "in the shared store stayed, no token came); minting here",
                    timing.wait,
                )
                return mint()
            try:
                owner = self._read()
                if owner == self.owner:
                    confirmed += 1
                    if confirmed >= 2:  # our claim survived two settle delays: we mint
                        return self._mint_and_release(mint)
                    # once more: a host whose write was slow may still overwrite it
                    pause = timing.settle
                elif owner is None:
                    confirmed = 0
                    self._write()
                    claimed = True
                    pause = timing.settle
                else:
                    confirmed = 0
                    pause = timing.poll  # another host mints
            except _StoreFailed:
                return mint()
            time.sleep(pause)
            waited = True

    def _mint_and_release(self, mint: Callable[[], AccessToken]) -> AccessToken:
        try:
            return mint()
        finally:
            # waiters stop waiting at once: for the token, or to claim themselves after a failure
            self._release()

    def _release(self) -> None:
        """Delete the claim if it is still ours (a newer one of another host stays)."""
        try:
            if self._read() == self.owner:
                self._store.delete(self._key)
        except _StoreFailed:
            pass
        except Exception as exc:
            self._on_store_error("delete", exc)

    def _read(self) -> str | None:
        """The owner of a fresh claim, or None (no claim, abandoned, or unreadable)."""
        try:
            text = self._store.read(self._key)
        except Exception as exc:
            self._on_store_error("read", exc)
            raise _StoreFailed from exc
        if not isinstance(text, str) or not text or len(text) > _MAX_CLAIM_TEXT:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        owner, at = data.get("owner"), finite_number(data.get("at"))
        if not isinstance(owner, str) or at is None:
            return None
        # a claim from the future (clock skew) counts as abandoned too, so none blocks forever
        if abs(self._clock() - at) >= self._timing.fresh_for:
            return None
        return owner

    def _write(self) -> None:
        text = json.dumps({"owner": self.owner, "at": self._clock()}, separators=(",", ":"))
        try:
            self._store.write(self._key, text)
        except Exception as exc:
            self._on_store_error("write", exc)
            raise _StoreFailed from exc
