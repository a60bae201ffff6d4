"""The test set-up finds a Redis-compatible server on any machine with the ``test`` extra."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from typing import TYPE_CHECKING

from redis_binary import redis_server_binary

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ping(binary: str) -> bytes:
    """Start ``binary`` on a free loopback port, send PING, return the answer, stop it."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 -- a fixed argument list
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    sock.sendall(b"PING\r\n")
                    return sock.recv(64)
            time.sleep(0.01)
        return b""
    finally:
        process.kill()
        process.wait()


def test_without_redis_server_on_the_path_the_wheel_brings_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    binary = redis_server_binary()
    assert binary is not None
    assert ping(binary) == b"+PONG\r\n"


def test_a_redis_server_on_the_path_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert redis_server_binary() == str(fake)
