"""What startup made is out of the garbage collector's sight while the app serves (a full collection
scanned it all: 300 ms with the event loop stopped, under a load test's burst), and back at shutdown."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import httpx

from tests.server.conftest import API_KEY, LiveServer, make_settings


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_startup_objects_are_frozen_while_serving_and_new_garbage_is_still_collected(
        tiny_weights_dir: Path, tmp_path: Path) -> None:
    live = LiveServer(make_settings(tmp_path, tiny_weights_dir)).start()
    try:
        # The app's modules, routes, catalog and schemas: tens of thousands of objects.
        assert gc.get_freeze_count() > 10_000, gc.get_freeze_count()
        with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
            assert client.get("/v1/models").status_code == 200
        # A cycle made after startup is garbage the collector still finds.
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None
    finally:
        live.stop()
    assert gc.get_freeze_count() == 0  # shutdown gives them back (another app may start in this process)
