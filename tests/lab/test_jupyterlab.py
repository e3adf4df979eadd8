"""JupyterLab as a reader meets it: the server opens a chapter's .py as a notebook, and a
kernel runs the chapter's first code cell."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jupytext
import pytest
import requests
import websocket

ROOT = Path(__file__).resolve().parents[2]
CHAPTER = "notebooks/ml/01_optimizers.py"
TOKEN = uuid.uuid4().hex


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path_factory.mktemp("runtime"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
         f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={ROOT}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/api/status", headers=_auth(), timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("JupyterLab did not start within 60 s")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _auth() -> dict[str, str]:
    return {"Authorization": f"token {TOKEN}"}


def _notebook_model(url: str) -> dict[str, Any]:
    r = requests.get(
        f"{url}/api/contents/{CHAPTER}", params={"type": "notebook", "content": 1},
        headers=_auth(), timeout=30,
    )  # fmt: skip
    r.raise_for_status()
    model: dict[str, Any] = r.json()
    return model


def test_chapter_py_opens_as_notebook_with_the_right_cells(server: str) -> None:
    model = _notebook_model(server)
    assert model["type"] == "notebook"
    cells = model["content"]["cells"]
    expected = jupytext.read(ROOT / CHAPTER, fmt="py:percent").cells
    assert [c["cell_type"] for c in cells] == [c.cell_type for c in expected]
    assert [c["source"] for c in cells] == [c.source for c in expected]


def test_py_files_open_as_notebooks_by_default(server: str) -> None:
    """`make lab` installs tools/jupyterlab-overrides.json; check the setting it provides."""
    overrides = json.loads((ROOT / "tools" / "jupyterlab-overrides.json").read_text())
    plugin = "@jupyterlab/docmanager-extension:plugin"
    assert overrides[plugin]["defaultViewers"]["python"] == "Jupytext Notebook"
    r = requests.get(f"{server}/lab/api/extensions", headers=_auth(), timeout=30)
    assert "jupyterlab-jupytext" in {e["name"] for e in r.json()}
    assert "jupyterlab-myst" in {e["name"] for e in r.json()}


def test_kernel_runs_the_first_code_cell(server: str) -> None:
    cells = _notebook_model(server)["content"]["cells"]
    first_code = next(c["source"] for c in cells if c["cell_type"] == "code")
    r = requests.post(
        f"{server}/api/kernels", json={"name": "python3"}, headers=_auth(), timeout=60
    )
    r.raise_for_status()
    kernel_id = r.json()["id"]
    ws_url = server.replace("http", "ws") + f"/api/kernels/{kernel_id}/channels?token={TOKEN}"
    ws = websocket.create_connection(ws_url, timeout=120)
    try:
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                       "session": uuid.uuid4().hex, "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": first_code + "\nprint('first cell ran')", "silent": False},
        }))  # fmt: skip
        status, printed = None, ""
        while status is None:
            reply = json.loads(ws.recv())
            if reply.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if reply["msg_type"] == "stream":
                printed += reply["content"]["text"]
            if reply["msg_type"] == "execute_reply":
                status = reply["content"]["status"]
        assert status == "ok", reply["content"]
        assert "first cell ran" in printed
    finally:
        ws.close()
        requests.delete(f"{server}/api/kernels/{kernel_id}", headers=_auth(), timeout=30)
