"""The Colab download of the shipped agent, against a real local HTTP server.

``colab.download_checkpoint`` and ``pong.find_pretrained``: the published file is accepted (its
SHA-256 pinned in the package), a tampered or truncated one is refused and deleted (a later run
never finds it), a server that never answers times out, a name with ``..`` is refused, and a
record that is not JSON is a clear error.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dqn_helpers import checkpoints, colab, pong

ROOT = Path(__file__).resolve().parent.parent
NAME = "checkpoints/pong_pretrained.pt"


def test_the_pinned_sha256_is_the_shipped_files() -> None:
    record = json.loads((ROOT / NAME).with_suffix(".json").read_text())
    assert colab.SHIPPED_SHA256[NAME] == record["sha256"] == checkpoints.sha256(ROOT / NAME)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``(base_url, folder)``: an HTTP server on localhost serving ``folder``."""
    folder = tmp_path / "site"
    (folder / "checkpoints").mkdir(parents=True)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()
    server.server_close()


def _publish(folder: Path, data: bytes | None = None, record: str | None = None) -> None:
    shutil.copy(ROOT / NAME, folder / NAME)
    if data is not None:
        (folder / NAME).write_bytes(data)
    json_path = (folder / NAME).with_suffix(".json")
    json_path.write_text(
        record if record is not None else (ROOT / NAME).with_suffix(".json").read_text()
    )


def test_the_published_file_downloads_and_loads(site: tuple[str, Path], tmp_path: Path) -> None:
    url, folder = site
    _publish(folder)
    got = colab.download_checkpoint(NAME, tmp_path / "content", base_url=url)
    assert checkpoints.sha256(got) == colab.SHIPPED_SHA256[NAME]
    assert json.loads(got.with_suffix(".json").read_text())["sha256"] == colab.SHIPPED_SHA256[NAME]
    checkpoints.load_agent(got)


def test_a_tampered_download_is_refused_and_deleted(site: tuple[str, Path], tmp_path: Path) -> None:
    url, folder = site
    data = bytearray((ROOT / NAME).read_bytes())
    data[1000] ^= 0xFF
    # the server's record is rewritten to match the tampered file: only the pinned hash catches it
    fake = json.loads((ROOT / NAME).with_suffix(".json").read_text())
    fake["sha256"] = __import__("hashlib").sha256(bytes(data)).hexdigest()
    _publish(folder, bytes(data), json.dumps(fake))
    content = tmp_path / "content"
    with pytest.raises(checkpoints.CheckpointError, match="SHA-256"):
        colab.download_checkpoint(NAME, content, base_url=url)
    assert not [p for p in content.rglob("*") if p.is_file()], "an unverified file was left behind"
    assert pong.find_pretrained(NAME, [content]) is None


def test_find_pretrained_skips_a_stale_unverified_copy(
    site: tuple[str, Path], tmp_path: Path
) -> None:
    url, folder = site
    _publish(folder)
    content = tmp_path / "content"
    (content / "checkpoints").mkdir(parents=True)
    (content / NAME).write_bytes((ROOT / NAME).read_bytes()[:5000])  # an interrupted download
    assert pong.find_pretrained(NAME, [content]) is None
    got = pong.find_pretrained(NAME, [content], download_to=content, timeout=10, base_url=url)
    assert got == content / NAME and checkpoints.sha256(got) == colab.SHIPPED_SHA256[NAME]
    assert pong.find_pretrained(NAME, [ROOT]) == ROOT / NAME


def test_a_record_that_is_not_json_is_a_clear_error(site: tuple[str, Path], tmp_path: Path) -> None:
    url, folder = site
    _publish(folder, record="<html>502 Bad Gateway</html>")
    content = tmp_path / "content"
    with pytest.raises(checkpoints.CheckpointError, match="is not valid JSON"):
        colab.download_checkpoint(NAME, content, base_url=url)
    assert not [p for p in content.rglob("*") if p.is_file()]


def test_a_silent_server_times_out(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts connections, never answers
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    start = time.perf_counter()
    try:
        with pytest.raises(OSError, match="timed out"):
            colab.download_checkpoint(NAME, tmp_path / "content", base_url=url, timeout=1.0)
    finally:
        listener.close()
    assert time.perf_counter() - start < 30
    assert not [p for p in (tmp_path / "content").rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    "name", ["../evil.pt", "checkpoints/../../evil.pt", "/etc/passwd", "checkpoints/other.pt"]
)
def test_names_outside_the_shipped_files_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="is not a shipped checkpoint"):
        colab.download_checkpoint(name, tmp_path / "content", base_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="is not a shipped checkpoint"):
        pong.find_pretrained(name, [tmp_path])
    assert not (tmp_path / "content").exists() and not (tmp_path / "evil.pt").exists()
