"""What the local stack provides on a fresh machine: jars checked against two checksums, a Java, redis-server.

The jar downloads run against a real HTTP server on loopback laid out like Maven Central.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.repository import ROOT, stack

provision = stack.provision
JAR = provision.Jar("org.example", "thing", "1.0")


@pytest.fixture
def repository(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """(directory, URL) of a Maven-like repository served on loopback."""
    root = tmp_path / "repo"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def publish(root: Path, data: bytes, *, sha1: str | None = None) -> str:
    """Put a jar and its .sha1 in the repository; returns the jar's SHA-256."""
    path = root / JAR.path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.with_name(path.name + ".sha1").write_text(sha1 or hashlib.sha1(data).hexdigest())  # noqa: S324 (Maven's checksum)
    return hashlib.sha256(data).hexdigest()


def lock_file(tmp_path: Path, sha256: str) -> Path:
    path = tmp_path / "test.lock"
    path.write_text(f"# a comment\n{JAR.group}:{JAR.artifact}:{JAR.version} {sha256}\n")
    return path


def test_a_jar_matching_both_checksums_is_fetched_once(repository: tuple[Path, str], tmp_path: Path) -> None:
    root, url = repository
    sha256 = publish(root, b"PK jar bytes")
    into = tmp_path / "jars"
    lines: list[str] = []
    assert provision.fetch_jars(lines.append, lock=lock_file(tmp_path, sha256), into=into, repository=url) == into
    assert (into / "thing-1.0.jar").read_bytes() == b"PK jar bytes"
    (root / JAR.path).unlink()  # a second call doesn't download again
    provision.fetch_jars(lines.append, lock=lock_file(tmp_path, sha256), into=into, repository=url)
    assert len(lines) == 1


def test_a_jar_not_matching_the_published_sha1_is_refused(repository: tuple[Path, str], tmp_path: Path) -> None:
    root, url = repository
    sha256 = publish(root, b"tampered", sha1=hashlib.sha1(b"original").hexdigest())  # noqa: S324
    into = tmp_path / "jars"
    with pytest.raises(stack.StackError, match=r"thing-1\.0\.jar: its SHA-1 is not the one .* publishes"):
        provision.fetch_jars(lambda _: None, lock=lock_file(tmp_path, sha256), into=into, repository=url)
    assert not into.exists()


def test_a_jar_not_matching_the_pinned_sha256_is_refused(repository: tuple[Path, str], tmp_path: Path) -> None:
    root, url = repository
    publish(root, b"republished with a valid sha1")
    with pytest.raises(stack.StackError, match=r"thing-1\.0\.jar: its SHA-256 is not the one pinned"):
        provision.fetch_jars(lambda _: None, lock=lock_file(tmp_path, "0" * 64), into=tmp_path / "j", repository=url)


def test_an_unreachable_repository_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(stack.StackError, match=r"^could not fetch http://127\.0\.0\.1:9/"):
        provision.fetch_jars(
            lambda _: None, lock=lock_file(tmp_path, "0" * 64), into=tmp_path / "j", repository="http://127.0.0.1:9"
        )


def test_the_lock_holds_the_versions_of_the_pom() -> None:
    pom = (ROOT / "compose" / "local" / "pom.xml").read_text()
    versions = dict(re.findall(r"<(kafka|log4j)\.version>([^<]+)<", pom))
    jars = {(jar.group, jar.artifact): jar for jar in provision.read_lock()}
    assert jars["org.apache.kafka", "kafka_2.13"].version == versions["kafka"]
    assert jars["org.apache.logging.log4j", "log4j-core"].version == versions["log4j"]
    assert jars["org.apache.logging.log4j", "log4j-slf4j-impl"].version == versions["log4j"]
    assert all(re.fullmatch(r"[0-9a-f]{64}", jar.sha256) for jar in jars.values())


@pytest.mark.parametrize(
    ("printed", "major"),
    [('openjdk version "17.0.15" 2025-04-15', 17), ('java version "1.8.0_402"', 8), ('openjdk version "25" 2025', 25)],
)
def test_the_java_version_is_read_from_java_version(tmp_path: Path, printed: str, major: int) -> None:
    fake = tmp_path / "java"
    fake.write_text(f"#!/bin/sh\necho '{printed}' >&2\n")
    fake.chmod(0o755)
    assert provision.java_major(str(fake)) == major


def test_missing_redis_where_it_cannot_be_installed_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provision.shutil, "which", lambda name: None)
    monkeypatch.setattr(provision.os, "geteuid", lambda: 1000)
    with pytest.raises(stack.StackError) as caught:
        provision.redis_server(lambda _: None)
    assert "\n" not in str(caught.value)
    assert "apt-get install -y redis-server" in str(caught.value)
    assert "REDIS_URL" in str(caught.value)
