"""The GPU chapter's recorded results and the script that writes them (tools/gpu_sweep.py).

The chapter notebooks/gpu/01_flash_attention_profiling plots every JSON file in
notebooks/gpu/results/; these tests keep those files valid and the script runnable. The
script's smoke mode runs the whole path on a CPU in a few seconds, with the chapter's Triton
kernel in the Triton interpreter.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from notebook_utils.attention_bench import load_results, validate_results

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "notebooks" / "gpu" / "results"
SCRIPT = ROOT / "tools" / "gpu_sweep.py"
HAVE_TRITON = importlib.util.find_spec("triton") is not None
RESULT_FILES = sorted(RESULTS.glob("*.json"))


def _load_script() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_sweep", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_there_is_a_recorded_result() -> None:
    assert RESULT_FILES, f"no results in {RESULTS.relative_to(ROOT)}: run tools/gpu_sweep.py"


@pytest.mark.parametrize("path", RESULT_FILES, ids=[p.name for p in RESULT_FILES])
def test_recorded_result_is_valid(path: Path) -> None:
    doc = load_results(path)  # validates
    env = doc["environment"]
    assert env["device_type"] in ("cpu", "cuda")
    assert {r["impl"] for r in doc["rows"]} >= {"naive", "sdpa_flash"}
    assert any(r["status"] == "ok" for r in doc["rows"])
    if env["device_type"] == "cuda":  # a GPU run times the kernel and states its ceilings
        assert any(r["impl"] == "triton_ours" and r["status"] == "ok" for r in doc["rows"])
        assert doc["ceilings"].get("matmul_tflops")
        assert all(check["ok"] for check in doc.get("kernel_checks", []))


def test_chapter_definitions_load_and_agree_with_sdpa() -> None:
    chapter = _load_script().load_chapter_kernels()
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, 70, 16, generator=g, dtype=torch.float64) for _ in range(3))
    for causal in (False, True):
        out, lse = chapter.tiled_attention(q, k, v, causal, block_m=32, block_n=16)
        ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
        assert lse.shape == (1, 2, 70)


@pytest.mark.skipif(not HAVE_TRITON, reason="Triton has wheels for Linux only")
def test_cpu_smoke_run_writes_a_valid_file(tmp_path: Path) -> None:
    out = tmp_path / "smoke.json"
    env = {**os.environ, "TRITON_INTERPRET": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--cpu-smoke", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    doc = json.loads(out.read_text())
    validate_results(doc)
    impls = {r["impl"] for r in doc["rows"]}
    assert {"naive", "sdpa_flash", "triton_ours", "tiled_torch"} <= impls
    assert all(r["status"] == "ok" for r in doc["rows"])
    ours = [r for r in doc["rows"] if r["impl"] == "triton_ours"]
    assert all(r["max_abs_err"] < 1e-5 for r in ours)  # against naive attention
    assert doc["kernel_checks"] and all(c["ok"] for c in doc["kernel_checks"])


@pytest.mark.skipif(not HAVE_TRITON, reason="Triton has wheels for Linux only")
@pytest.mark.skipif(
    os.environ.get("TRITON_INTERPRET") == "1", reason="the interpreter replaces the compiler"
)
def test_kernel_compiles_for_hopper_without_a_gpu() -> None:
    """The GPU path, checked on a CPU: the kernel compiles for sm_90 in bf16 (through ptxas),
    with a causal mask and one of the autotuner's configurations, and uses wgmma."""
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource, compile

    chapter = _load_script().load_chapter_kernels()  # a real JITFunction: no TRITON_INTERPRET
    kernel = chapter.flash_attention_forward_kernel
    block_m, block_n, num_warps, num_stages = 128, 64, 4, 3
    assert (block_m, block_n, num_warps, num_stages) in chapter.GPU_CONFIGS
    pointers = {name: "*bf16" for name in ("q_ptr", "k_ptr", "v_ptr", "o_ptr")}
    signature = {**pointers, "lse_ptr": "*fp32", "seq_len": "i32", "qk_scale": "fp32"}
    constants = {"HEAD_DIM": 64, "BLOCK_M": block_m, "BLOCK_N": block_n, "CAUSAL": True}
    signature.update(dict.fromkeys(constants, "constexpr"))
    compiled = compile(
        ASTSource(fn=kernel, signature=signature, constexprs=constants),
        target=GPUTarget("cuda", 90, 32),
        options={"num_warps": num_warps, "num_stages": num_stages},
    )
    assert "wgmma" in compiled.asm["ptx"]
    assert compiled.asm["cubin"]  # ptxas accepted it
