"""The container, tested without Docker (CI machines have no Docker daemon): the final
stage's ENTRYPOINT + CMD, ENV and HEALTHCHECK of the Dockerfile are read from the file and
run here, with two substitutions that are reported: the model path (our own int8 export of
the shipped model, as the build stage makes it) and the port (a free one instead of 8000).
Where this process is root and an unprivileged user can run the interpreter, the server runs
as that user (the image's USER is not root); otherwise as the current user."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from helpers import REPO

DOCKERFILE = REPO / "Dockerfile"


def final_stage() -> list[str]:
    """Instructions (continuation lines joined) after the last FROM."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.strip().startswith("#")]
    last = max(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
    return lines[last + 1:]


def instruction(stage: list[str], name: str) -> list[str]:
    return [line[len(name):].strip() for line in stage if line.upper().startswith(name + " ")]


def runtime_spec() -> dict:
    stage = final_stage()
    env = {}
    for line in instruction(stage, "ENV"):
        for item in shlex.split(line):
            key, _, value = item.partition("=")
            env[key] = value
    health = instruction(stage, "HEALTHCHECK")[0]
    return {"env": env, "user": instruction(stage, "USER")[-1],
            "entrypoint": json.loads(instruction(stage, "ENTRYPOINT")[-1]),
            "cmd": json.loads(instruction(stage, "CMD")[-1]),
            "health": json.loads(health[health.index("CMD") + 3:].strip())}


def test_the_image_runs_unprivileged_with_a_health_check():
    spec = runtime_spec()
    assert spec["user"] not in ("root", "0")
    assert spec["entrypoint"][:2] == ["hanyi", "serve"] and "0.0.0.0" in spec["entrypoint"]
    assert spec["env"]["HANYI_MODEL"] == "/opt/hanyi/models/hanyi-en-zh"
    assert "/api/health" in " ".join(spec["health"])
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "torch==2.13.0" in text and ".[serve,export]" in text  # (CTranslate2 to serve)
    assert "COPY models/hanyi-en-zh /opt/hanyi/models/hanyi-en-zh" in text
    assert (REPO / "models" / "hanyi-en-zh" / "ctranslate2" / "model.bin").is_file()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unprivileged_prefix() -> list[str]:
    """setpriv to 'nobody' when we are root and it can run this interpreter; else none."""
    if os.geteuid() != 0:
        return []
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    try:
        ok = subprocess.run([*prefix, sys.executable, "-c", "import hanyi"], timeout=60,
                            capture_output=True, env={**os.environ,
                                                      "PYTHONPATH": str(REPO / "src")})
    except (OSError, subprocess.SubprocessError):
        return []
    return prefix if ok.returncode == 0 else []


@pytest.mark.slow
def test_the_entry_point_serves_and_passes_its_health_check():
    pytest.importorskip("ctranslate2")
    spec = runtime_spec()
    folder = Path(tempfile.mkdtemp(prefix="hanyi-container-"))
    folder.chmod(0o755)  # readable by an unprivileged user, as /opt/hanyi/models is
    model = folder / "hanyi-en-zh"
    shutil.copytree(REPO / "models" / "hanyi-en-zh", model)
    for path in [model, *model.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    port = str(free_port())
    command = [*spec["entrypoint"], *spec["cmd"]]
    command[command.index("--port") + 1] = port
    command[0] = str(Path(sys.executable).with_name("hanyi"))  # the venv's, as PATH has it
    env = {**os.environ, **{k: v for k, v in spec["env"].items() if k != "PATH"},
           "HANYI_MODEL": str(model), "PYTHONPATH": str(REPO / "src"), "HOME": str(folder)}
    user = unprivileged_prefix()
    server = subprocess.Popen([*user, *command], env=env, cwd=folder,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    health = [sys.executable if spec["health"][0] == "python" else spec["health"][0],
              *(part.replace(":8000/", f":{port}/") for part in spec["health"][1:])]
    try:
        deadline, healthy = time.monotonic() + 120, False
        while time.monotonic() < deadline and server.poll() is None and not healthy:
            healthy = subprocess.run(health, capture_output=True, timeout=10).returncode == 0
            time.sleep(0.5)
        if not healthy:
            server.send_signal(signal.SIGTERM)
            pytest.fail(f"never healthy (user: {user or 'current'}):\n"
                        f"{server.communicate(timeout=30)[0].decode(errors='replace')}")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/translate", data=b'{"text": "How are you?"}',
            headers={"Content-Type": "application/json"})
        answer = json.loads(urllib.request.urlopen(request, timeout=30).read())
        assert any("\u4e00" <= ch <= "\u9fff" for ch in answer["translation"])
        assert answer["model"] == "hanyi-en-zh"
        health = json.loads(urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/health", timeout=10).read())
        assert health["engine"] == "ctranslate2-int8"  # the model's own export, as in the image
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0].decode(errors="replace")
    # uvicorn shuts down gracefully, then re-raises the SIGTERM: hanyi exits 128 + 15
    assert server.returncode in (0, 128 + signal.SIGTERM), output
    assert "Traceback" not in output


def test_the_compose_example_is_valid_hanyi_serve_flags():
    from hanyi.cli.__main__ import build_parser
    from hanyi.cli.serve import serve_config

    compose = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    service = compose["services"]["hanyi"]
    args = build_parser().parse_args(["serve", *service["command"]])
    cfg = serve_config(args)
    assert cfg.rate_limit == "60/min" and cfg.metrics
    assert service["environment"]["HANYI_API_KEYS_FILE"].startswith("/run/secrets/")
