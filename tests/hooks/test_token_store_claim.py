"""The Variable store keeps the mint claim apart from the token, and the claim says nothing secret.

``airflow.sdk.Variable`` is replaced by a dictionary here: outside a running task it needs a
supervisor; the real Variable path runs in ``test_dag_run.py`` and in the cluster tests.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from airflow_provider_firefly.client.config import FireflyCredentials, TokenCacheSettings
from airflow_provider_firefly.client.tokens import AccessToken, TokenManager
from airflow_provider_firefly.hooks.token_store import VARIABLE_PREFIX, VariableTokenStore


class FakeVariable:
    """The part of ``airflow.sdk.Variable`` the store uses, over a dictionary."""

    values: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    history: list[tuple[str, str]] = []

    @classmethod
    def get(cls, key: str, default: Any = None) -> Any:
        return cls.values.get(key, default)

    @classmethod
    def set(cls, key: str, value: str, description: str | None = None) -> None:
        cls.values[key] = value
        cls.descriptions[key] = description or ""
        cls.history.append((key, value))

    @classmethod
    def delete(cls, key: str) -> None:
        cls.values.pop(key, None)


@pytest.fixture
def variables(monkeypatch: pytest.MonkeyPatch) -> type[FakeVariable]:
    import airflow.sdk

    FakeVariable.values, FakeVariable.descriptions, FakeVariable.history = {}, {}, []
    monkeypatch.setattr(airflow.sdk, "Variable", FakeVariable)
    return FakeVariable


def test_claim_and_token_live_in_different_variables(variables, tmp_path):
    credentials = FireflyCredentials("claim-client", "claim-secret-value-123")
    minted: list[AccessToken] = []

    def mint() -> AccessToken:
        now = time.time()
        minted.append(AccessToken("tok-claimed-" + "z" * 30, now + 86399, now))
        return minted[-1]

    manager = TokenManager(
        credentials,
        mint,
        TokenCacheSettings(cache_dir=tmp_path / "host"),
        shared_store=VariableTokenStore(),
    )
    token = manager.get_token()
    token_variable = f"{VARIABLE_PREFIX}{credentials.cache_key[:32]}"
    claim_variables = {key for key, _ in variables.history if key != token_variable}
    assert len(claim_variables) == 1
    (claim_variable,) = claim_variables
    assert claim_variable.startswith(f"{VARIABLE_PREFIX}claim_")
    assert "no secret" in variables.descriptions[claim_variable]
    assert "Encrypted" in variables.descriptions[token_variable]
    # the token Variable holds ciphertext, the claim Variable is gone after the mint
    assert set(variables.values) == {token_variable}
    assert token.value not in variables.values[token_variable]
    for key, value in variables.history:
        if key == claim_variable:
            assert set(json.loads(value)) == {"owner", "at"}
            assert credentials.client_secret not in value
            assert token.value not in value
    assert len(minted) == 1
