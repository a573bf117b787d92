"""The hook's share of the organisation's budget (budget_slots), proxy masking, download and
upload details. Against the emulator over loopback."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_firefly.client.errors import (
    FireflyConfigError,
    FireflyDownloadRefusedError,
    FireflyValidationError,
)
from airflow_provider_firefly.client.limits import MAX_UPLOAD_BYTES, request_spacing
from airflow_provider_firefly.hooks.firefly import FireflyHook
from airflow_provider_firefly.testing import FireflyEmulator

SetConn = Callable[..., str]


def test_no_budget_no_pacer(firefly_emulator: FireflyEmulator, set_conn: SetConn) -> None:
    hook = FireflyHook(set_conn("ff_nobudget", firefly_emulator))
    assert hook.client.pacer is None


def test_each_task_gets_its_share_of_the_budget(
    firefly_emulator: FireflyEmulator, set_conn: SetConn
) -> None:
    conn = set_conn("ff_share", firefly_emulator, requests_per_minute=30, budget_slots=10)
    hook = FireflyHook(conn)
    assert hook.config.budget_slots == 10
    pacer = hook.client.pacer
    assert pacer is not None
    assert pacer.spacing == request_spacing(3)
    # a second task (another hook) has a pacer of its own, started when it started
    other = FireflyHook(conn).client.pacer
    assert other is not None
    assert other is not pacer


def test_without_budget_slots_each_task_sends_one_request_a_minute(
    firefly_emulator: FireflyEmulator, set_conn: SetConn
) -> None:
    hook = FireflyHook(set_conn("ff_share1", firefly_emulator, requests_per_minute=4))
    assert hook.client.pacer is not None
    assert hook.client.pacer.spacing == request_spacing(1)


def test_the_sync_client_waits_its_turn_then_submits(
    firefly_emulator: FireflyEmulator, set_conn: SetConn
) -> None:
    """A 600/min budget over 10 slots: 60 a minute per task, 1.02 s apart, the first too."""
    emu = firefly_emulator
    emu.configure(job_duration=0)
    hook = FireflyHook(set_conn("ff_turn", emu, requests_per_minute=600, budget_slots=10))
    client = hook.client
    started = time.monotonic()
    handle = hook.submit("generate_images", {"prompt": "a fox"})
    first = time.monotonic() - started
    hook.get_status(handle)
    both = time.monotonic() - started
    assert 1.0 <= first < 1.9
    assert 2.0 <= both < 3.5
    assert client.pacer is not None
    assert client.pacer.sent_count == 2


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"requests_per_minute": 30, "budget_slots": 31}, "more than requests_per_minute"),
        ({"requests_per_minute": 30, "budget_slots": 0}, "at least 1"),
        ({"budget_slots": 4}, "needs 'requests_per_minute'"),
        ({"requests_per_minute": 30, "budget_slots": "ten"}, "must be a integer"),
    ],
)
def test_bad_budget_slots_are_refused_before_any_request(
    firefly_emulator: FireflyEmulator, set_conn: SetConn, extra: dict[str, Any], words: str
) -> None:
    hook = FireflyHook(set_conn("ff_badslots", firefly_emulator, **extra))
    with pytest.raises(FireflyConfigError) as caught:
        _ = hook.config
    assert caught.value.field == "budget_slots"
    assert "budget_slots" in caught.value.message
    assert words in caught.value.message
    assert firefly_emulator.counters()["ims_token_requests"] == 0


def test_proxy_url_and_its_password_are_masked(
    firefly_emulator: FireflyEmulator, set_conn: SetConn
) -> None:
    from airflow.sdk._shared.secrets_masker import redact

    password = "pr%40xy-S3cret"  # percent-encoded: "pr@xy-S3cret" decoded
    proxy = f"http://alice:{password}@127.0.0.1:3128"
    hook = FireflyHook(set_conn("ff_proxy_mask", firefly_emulator, proxy_url=proxy))
    assert hook.config.http.proxy_url == proxy
    for secret in (proxy, password, "pr@xy-S3cret"):
        line = f"connecting through {secret} now"
        assert secret not in str(redact(line)), secret


def test_download_to_object_storage_refused_leaves_no_partial_object(
    firefly_emulator: FireflyEmulator, set_conn: SetConn, tmp_path: Path
) -> None:
    from airflow.sdk import ObjectStoragePath

    emu = firefly_emulator
    emu.configure(job_duration=0)
    hook = FireflyHook(set_conn("ff_dl_refused", emu, max_output_bytes=10))
    status = hook.wait(hook.submit("generate_images", {"prompt": "a fox"}), timeout=30)
    target = ObjectStoragePath(f"file://{tmp_path}/out/fox.png")
    with pytest.raises(FireflyDownloadRefusedError) as caught:
        hook.download(status.outputs[0], target, job_id=status.job_id)
    assert status.job_id in str(caught.value)
    assert not target.exists()


def test_object_storage_upload_size_uses_the_one_rule(
    firefly_emulator: FireflyEmulator, set_conn: SetConn, tmp_path: Path
) -> None:
    from airflow.sdk import ObjectStoragePath

    big = tmp_path / "big.png"
    with big.open("wb") as handle:
        handle.truncate(MAX_UPLOAD_BYTES + 1)
    hook = FireflyHook(set_conn("ff_up_big", firefly_emulator))
    with pytest.raises(FireflyValidationError) as caught:
        hook.upload_image(ObjectStoragePath(f"file://{big}"))
    message = caught.value.message
    assert message.startswith(f"image file://{big}") or message.startswith(f"image {big}")
    assert f"{MAX_UPLOAD_BYTES:,} bytes" in message
    assert firefly_emulator.counters()["requests_by_route"].get("POST /v2/storage/image", 0) == 0


def test_the_test_button_does_not_wait_a_tasks_share(
    firefly_emulator: FireflyEmulator, set_conn: SetConn
) -> None:
    """Adobe's default budget over its default slots is one request a minute per task; the
    connection test is not a task and answers at once."""
    hook = FireflyHook(set_conn("ff_button", firefly_emulator, requests_per_minute=4))
    started = time.monotonic()
    ok, message = hook.test_connection()
    assert ok, message
    assert time.monotonic() - started < 10
