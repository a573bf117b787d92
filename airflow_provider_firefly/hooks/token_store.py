"""The cluster-wide token level: the encrypted token in an Airflow Variable.

Opt-in (connection extra ``shared_cache``) for executors whose tasks share no host, such
as the Kubernetes executor. The Variable holds the same ciphertext as the host cache file,
encrypted with a key derived from the client secret: whoever can read Variables but does not
hold the secret learns nothing. Trade-offs (documented in the README): one more place where the
token lives, last writer wins (harmless: every minted token stays valid), one Execution API call
per task on a cold process cache. A host about to mint first writes a mint claim
(``firefly_ims_token_claim_...``: an owner id and a time) so that hosts starting together mint once.
"""

from __future__ import annotations

import logging

from airflow_provider_firefly.client.mint_claim import CLAIM_KEY_PREFIX

__all__ = ["VARIABLE_PREFIX", "VariableTokenStore"]

log = logging.getLogger(__name__)

# "token" in the key makes Airflow mask the value in the UI and logs as well.
VARIABLE_PREFIX = "firefly_ims_token_"


class VariableTokenStore:
    """A :class:`~airflow_provider_firefly.client.tokens.SharedTokenStore` on Airflow Variables."""

    def __init__(self, prefix: str = VARIABLE_PREFIX) -> None:
        self.prefix = prefix

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key[:32]}"

    def read(self, key: str) -> str | None:
        from airflow.sdk import Variable

        value = Variable.get(self._key(key), default=None)
        return value if isinstance(value, str) and value else None

    def write(self, key: str, value: str) -> None:
        from airflow.sdk import Variable

        Variable.set(
            self._key(key),
            value,
            description=(
                "Which host mints the next Firefly IMS token (owner id and time, no secret)"
                if key.startswith(CLAIM_KEY_PREFIX)
                else "Encrypted Adobe IMS token shared by Firefly tasks"
            ),
        )

    def delete(self, key: str) -> None:
        from airflow.sdk import Variable

        Variable.delete(self._key(key))
