"""Profile attention on a GPU: naive, the chapter's Triton FlashAttention kernel, SDPA backends.

The GPU chapter (notebooks/gpu/01_flash_attention_profiling) plots the JSON files this script
writes to notebooks/gpu/results/, so the book shows GPU measurements even when it is built
without a GPU. The kernel is not copied here: it is read from the chapter, whose
definition-only cells (imports, functions, UPPER_CASE literal constants) are executed.

Usage, from the repository root::

    # on the GPU host (bf16; N 1k-16k at 16k tokens; d 64 and 128): sized for about 5 minutes
    # on an H200, most of it compiling and autotuning (an estimate, until the first run)
    python tools/gpu_sweep.py --out notebooks/gpu/results/h200_bf16.json
    # a shorter run: --seq-lens 4096 16384 --head-dims 128

    # the CPU stand-in committed until a GPU run exists (float32, no Triton kernel: the
    # interpreter's timings mean nothing)
    OMP_NUM_THREADS=1 python tools/gpu_sweep.py --cpu --out notebooks/gpu/results/cpu_fp32.json

    # smoke test of the whole path in seconds, the kernel in the Triton interpreter
    TRITON_INTERPRET=1 python tools/gpu_sweep.py --cpu-smoke --out /tmp/smoke.json

Before timing, the kernel is checked against SDPA (bf16 and fp16 on a GPU, float32 in the
smoke test); the script stops if a check fails. Needs torch, and triton except with --cpu;
notebook_utils is imported from src/ if it is not installed.
"""

from __future__ import annotations

import argparse
import ast
import linecache
import math
import os
import sys
import time
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "notebooks" / "gpu" / "01_flash_attention_profiling.py"

# What each mode measures: lengths at a fixed token count, heads (fixed, or d_model // d), head
# dims, dtype, repeats, the score-matrix limit of naive attention, and the ceilings' sizes.
MODES: dict[str, dict[str, Any]] = {
    "gpu": dict(
        seq_lens=[1024, 2048, 4096, 8192, 16384],
        total_tokens=16384,
        d_model=2048,  # heads = 2048 // d: 32 heads of 64, 16 heads of 128
        head_dims=[64, 128],
        dtype="bfloat16",
        warmup=3,
        repeats=10,
        score_limit_bytes=8 * 2**30,  # naive / math backend: skip beyond an 8 GiB score matrix
        matmul_n=8192,
        copy_bytes=1 << 30,
    ),
    "cpu": dict(
        seq_lens=[256, 512, 1024, 2048],
        total_tokens=4096,
        heads=4,
        head_dims=[64],
        dtype="float32",
        warmup=1,
        repeats=3,
        score_limit_bytes=1 << 30,
        matmul_n=1024,
        copy_bytes=1 << 26,
    ),
    "cpu-smoke": dict(
        seq_lens=[64],
        total_tokens=64,
        heads=1,
        head_dims=[16],
        dtype="float32",
        warmup=0,
        repeats=2,
        score_limit_bytes=1 << 30,
        matmul_n=128,
        copy_bytes=1 << 20,
    ),
}


def _is_definition(node: ast.stmt) -> bool:
    """Imports, defs, classes and UPPER_CASE = <literal> (the rule of tests/chapter_code.py)."""
    if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.ClassDef):
        return True
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if not all(isinstance(t, ast.Name) and t.id.isupper() for t in targets):
            return False
        try:
            ast.literal_eval(node.value) if node.value is not None else None
        except ValueError:
            return False
        return True
    return False


def _code_cells(text: str) -> list[str]:
    """The code cells of a jupytext py:percent file (markdown cells and the header dropped)."""
    cells: list[list[str]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("# %%"):
            current = None if "[markdown]" in line else []
            if current is not None:
                cells.append(current)
        elif current is not None:
            current.append(line)
    return ["\n".join(cell) for cell in cells if "".join(cell).strip()]


def load_chapter_kernels(path: Path = CHAPTER) -> types.ModuleType:
    """The chapter's definitions (kernel, wrapper, tiled attention) as a module.

    Definition-only cells run whole; of the other cells only the top-level imports run, each
    skipped if its package is missing here (matplotlib, say, on a bare GPU host). The chapter's
    first cell imports Triton inside a try block, so ``triton`` and ``tl`` are provided here,
    or stand-ins (the kernel is then defined but cannot run) where Triton is not installed.
    """
    module = types.ModuleType(f"chapter_{path.stem}")
    module.__file__ = str(path)
    namespace = module.__dict__
    try:
        import triton
        import triton.language as tl
    except ImportError:
        triton = types.SimpleNamespace(jit=lambda fn: fn)
        tl = types.SimpleNamespace(constexpr=int)
    namespace.update(triton=triton, tl=tl)
    n_definitions = 0
    for index, source in enumerate(_code_cells(path.read_text(encoding="utf-8"))):
        tree = ast.parse(source)
        if tree.body and all(_is_definition(node) for node in tree.body):
            n_definitions += 1
            # @triton.jit reads a kernel's source with inspect.getsource: register the cell's
            # text under its pseudo file name, as IPython does for notebook cells.
            filename = f"<{path.name}, code cell {index}>"
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            exec(compile(tree, filename, "exec"), namespace)
            continue
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                try:
                    exec(
                        compile(ast.Module([node], []), f"{path.name} (import)", "exec"), namespace
                    )
                except ImportError:
                    pass
    for name in ("flash_attention", "tiled_attention", "flash_attention_forward_kernel"):
        if name not in namespace:
            raise RuntimeError(f"{path} defines no {name} in a definition-only cell")
    if n_definitions == 0:
        raise RuntimeError(f"{path} has no definition-only cell")
    return module


def cpu_model_name() -> str | None:
    """The CPU's model name from /proc/cpuinfo (Linux), e.g. 'AMD EPYC 9654 96-Core Processor'."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def check_kernel(chapter: types.ModuleType, device: Any, smoke: bool) -> list[dict[str, Any]]:
    """The kernel's output and LSE against SDPA/logsumexp in fp32, before anything is timed."""
    import torch
    import torch.nn.functional as F

    if device.type == "cuda":
        cases = [(2, 4, 1000, 64), (1, 2, 2048, 128), (1, 32, 4096, 64), (1, 16, 4096, 128)]
        dtypes = {torch.bfloat16: 2e-2, torch.float16: 4e-3}
    else:
        cases = [(1, 1, 40, 16)] if smoke else [(1, 2, 100, 64)]
        dtypes = {torch.float32: 1e-5}
    gen = torch.Generator(device=device).manual_seed(1)
    results = []
    for batch, heads, n, d in cases:
        for dtype, atol in dtypes.items():
            if dtype == torch.float16 and (n, d) != (1000, 64):
                continue  # fp16 once: each dtype compiles the kernel again
            q, k, v = (
                torch.randn(batch, heads, n, d, device=device, generator=gen).to(dtype)
                for _ in range(3)
            )
            for causal in (False, True):
                out, lse = chapter.flash_attention(q, k, v, causal)
                reference = F.scaled_dot_product_attention(
                    q.float(), k.float(), v.float(), is_causal=causal
                )
                scores = q.float() @ k.float().transpose(-2, -1) / math.sqrt(d)
                if causal:
                    keep = torch.ones(n, n, dtype=torch.bool, device=device).tril()
                    scores = scores.masked_fill(~keep, -math.inf)
                out_err = float((out.float() - reference).abs().max())
                lse_err = float((lse - torch.logsumexp(scores, dim=-1)).abs().max())
                ok = out_err <= atol and lse_err <= atol / 4
                results.append(
                    dict(shape=[batch, heads, n, d], dtype=str(dtype).removeprefix("torch."),
                         causal=causal, max_abs_err=out_err, lse_max_abs_err=lse_err,
                         atol=atol, ok=ok)
                )  # fmt: skip
                print(f"check {results[-1]}", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the JSON file to write")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--cpu", action="store_true", help="CPU stand-in run, no Triton kernel")
    group.add_argument("--cpu-smoke", action="store_true", help="tiny run, kernel interpreted")
    parser.add_argument("--notes", default="", help="free text stored with the results")
    parser.add_argument("--seq-lens", type=int, nargs="+", help="override the mode's lengths")
    parser.add_argument("--head-dims", type=int, nargs="+", help="override the mode's head dims")
    args = parser.parse_args(argv)
    mode = "cpu" if args.cpu else "cpu-smoke" if args.cpu_smoke else "gpu"
    cfg = dict(MODES[mode])
    if args.seq_lens:
        cfg["seq_lens"] = args.seq_lens
    if args.head_dims:
        cfg["head_dims"] = args.head_dims

    if mode == "cpu-smoke":
        os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported
    sys.path.insert(0, str(ROOT / "src"))  # notebook_utils, if not installed
    import torch

    from notebook_utils.attention_bench import (
        environment_info,
        make_results,
        measure_copy_gbps,
        measure_matmul_tflops,
        naive_attention,
        run_attention_sweep,
        save_results,
        sdpa_backend_fns,
    )

    if mode == "gpu":
        if not torch.cuda.is_available():
            parser.error("no CUDA device: use --cpu or --cpu-smoke")
        device = torch.device("cuda")
    else:
        device = torch.device("cpu")
    started = time.perf_counter()
    chapter = load_chapter_kernels()
    dtype = getattr(torch, cfg["dtype"])
    env = environment_info(device)
    try:
        from torch.nn.attention import current_flash_attention_impl

        env["flash_attention_impl"] = current_flash_attention_impl()
    except (ImportError, AttributeError, RuntimeError):  # older torch: the built-in FA2 only
        env["flash_attention_impl"] = None
    print("environment:", env, flush=True)

    checks: list[dict[str, Any]] = []
    if mode != "cpu":
        checks = check_kernel(chapter, device, smoke=mode == "cpu-smoke")
        failed = [c for c in checks if not c["ok"]]
        if failed:
            print(f"{len(failed)} kernel check(s) failed; nothing is timed.", file=sys.stderr)
            return 1
        print(f"kernel checks passed ({time.perf_counter() - started:.0f} s)", flush=True)

    ceilings = {
        "matmul_tflops": measure_matmul_tflops(device, dtype, n=cfg["matmul_n"]),
        "copy_gbps": measure_copy_gbps(device, n_bytes=cfg["copy_bytes"]),
    }
    print(f"ceilings: {ceilings} ({time.perf_counter() - started:.0f} s)", flush=True)

    # The first implementation that runs at a point is the reference of the others' errors:
    # naive attention where it fits, else PyTorch's flash backend.
    sdpa = sdpa_backend_fns(device)
    impls: dict[str, Any] = {"naive": naive_attention, "sdpa_flash": sdpa.pop("sdpa_flash")}
    if mode != "cpu":  # the interpreter's timings mean nothing, but the smoke test runs it
        impls["triton_ours"] = lambda q, k, v, causal: chapter.flash_attention(q, k, v, causal)[0]
    if mode != "gpu":  # a Python loop over tiles: fine on a CPU, launch-bound on a GPU
        impls["tiled_torch"] = lambda q, k, v, causal: chapter.tiled_attention(q, k, v, causal)[0]
    impls.update(sdpa)
    limit = cfg["score_limit_bytes"]
    rows: list[dict[str, Any]] = []
    for head_dim in cfg["head_dims"]:
        heads = cfg["d_model"] // head_dim if "d_model" in cfg else cfg["heads"]
        rows += run_attention_sweep(
            impls,
            seq_lens=cfg["seq_lens"],
            total_tokens=cfg["total_tokens"],
            heads=heads,
            head_dims=[head_dim],
            causal_modes=[False, True],
            dtype=dtype,
            device=device,
            warmup=cfg["warmup"],
            repeats=cfg["repeats"],
            max_score_bytes={"naive": limit, "sdpa_math": limit},
            progress=lambda line: print(line, flush=True),
        )

    heads_note = f"heads = {cfg['d_model']} // d" if "d_model" in cfg else f"{cfg['heads']} heads"
    notes = (
        f"tools/gpu_sweep.py, mode {mode}: {cfg['total_tokens']} tokens per point "
        f"(batch = tokens // N), {heads_note}; naive and sdpa_math skipped beyond a "
        f"{limit / 2**30:g} GiB score matrix. {args.notes}"
    ).strip()
    doc = make_results(rows, device=device, ceilings=ceilings, notes=notes)
    doc["environment"].update(flash_attention_impl=env["flash_attention_impl"])
    if device.type == "cpu":  # platform.processor() is often empty on Linux
        doc["environment"]["device_name"] = cpu_model_name() or doc["environment"]["device_name"]
    doc["kernel_checks"] = checks
    if mode == "gpu":
        tuner = chapter.autotuned_forward_kernel()  # the configurations the autotuner chose
        chosen = getattr(tuner, "cache", {})
        doc["kernel_configs"] = {str(key): str(best) for key, best in chosen.items()}
    doc["wall_time_s"] = time.perf_counter() - started
    path = save_results(doc, args.out)
    n_ok = sum(r["status"] == "ok" for r in rows)
    print(f"wrote {path}: {n_ok}/{len(rows)} rows ok, {doc['wall_time_s']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
