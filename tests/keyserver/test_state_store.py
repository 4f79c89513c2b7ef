"""Both StateStore implementations: compare-and-swap semantics, key checks, and a race
between processes in which exactly one writer wins each round."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path

import pytest
from sealgate.errors import InputError
from sealgate.keyserver import StateStore, open_state_store
from sealgate.keyserver._pointers import HighWaterMarks

from tests.promotion.conftest import AZURITE_ACCOUNT, Azurite, azurite  # noqa: F401 (fixture)


@pytest.fixture(params=["file", "azblob"])
def state_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    if request.param == "file":
        yield f"file://{tmp_path / 'registry'}"
        return
    emulator: Azurite = request.getfixturevalue("azurite")
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", emulator.connection_string)
    yield f"azblob://{AZURITE_ACCOUNT}/{emulator.new_container()}"


def test_compare_and_swap(state_url: str) -> None:
    store: StateStore = open_state_store(state_url)
    assert store.read("devices/a.json") is None
    assert store.create("devices/a.json", b"one")
    assert not store.create("devices/a.json", b"two")  # exists: nothing written
    content, tag = store.read("devices/a.json")  # type: ignore[misc]
    assert content == b"one"
    assert store.replace("devices/a.json", b"three", tag)
    assert not store.replace("devices/a.json", b"four", tag)  # stale tag
    assert not store.delete("devices/a.json", tag)
    content, newer = store.read("devices/a.json")  # type: ignore[misc]
    assert content == b"three" and newer != tag
    assert store.delete("devices/a.json", newer)
    assert store.read("devices/a.json") is None
    assert not store.replace("devices/a.json", b"x", newer)  # gone


@pytest.mark.parametrize("key", ["../escape.json", "/abs.json", "a/../b.json", "a//b", "", "a/./b"])
def test_keys_outside_the_store_are_refused(tmp_path: Path, key: str) -> None:
    store = open_state_store(f"file://{tmp_path}")
    with pytest.raises(InputError, match="not a relative name"):
        store.read(key)


def test_high_water_marks_only_move_forward(state_url: str) -> None:
    marks = HighWaterMarks(open_state_store(state_url))
    assert marks.observe("reg", "prod", "ranker", 3, "sha256:a") == (False, 3)
    assert marks.observe("reg", "prod", "ranker", 5, "sha256:b") == (False, 5)
    assert marks.observe("reg", "prod", "ranker", 4, "sha256:a") == (True, 5)
    # The same counter naming another digest is not the pointer that was seen.
    assert marks.observe("reg", "prod", "ranker", 5, "sha256:c") == (True, 5)
    # Another registry's pointer under the same name is never accepted against this mark.
    assert marks.observe("other", "prod", "ranker", 9, "sha256:d")[0] is True


def _race(
    url: str, env: dict[str, str], worker: int, rounds: int, queue: multiprocessing.Queue
) -> None:  # type: ignore[type-arg]
    import os

    os.environ.update(env)
    store = open_state_store(url)
    wins = 0
    for round_number in range(rounds):
        key = f"nonces/{round_number:04d}.json"
        found = store.read(key)
        if found is not None and store.delete(key, found[1]):
            wins += 1
    queue.put((worker, wins))


def test_two_processes_consume_each_nonce_once(state_url: str) -> None:
    import os

    store = open_state_store(state_url)
    rounds = 30
    for round_number in range(rounds):
        assert store.create(f"nonces/{round_number:04d}.json", b"{}")
    env = {k: v for k, v in os.environ.items() if k == "AZURE_STORAGE_CONNECTION_STRING"}
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [
        context.Process(target=_race, args=(state_url, env, i, rounds, queue)) for i in range(2)
    ]
    for process in workers:
        process.start()
    results = dict(queue.get(timeout=120) for _ in workers)
    for process in workers:
        process.join(timeout=30)
    assert sum(results.values()) == rounds  # every nonce used exactly once
