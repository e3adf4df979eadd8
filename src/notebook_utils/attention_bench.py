"""A profiling harness for attention implementations: time, TFLOP/s, peak memory, provenance.

It runs the same sweep on a GPU (CUDA events, ``torch.cuda.max_memory_allocated``) and on a
CPU (medians of wall-clock repeats, the profiler's memory events), records which kernel
actually ran for each PyTorch SDPA backend, the hardware and the library versions, and
writes everything to a JSON file that the book plots when it is built without a GPU::

    impls = {"naive": naive_attention, "sdpa": sdpa_attention}
    rows = run_attention_sweep(impls, seq_lens=[256, 512], total_tokens=1024, heads=4,
                               head_dims=[64], causal_modes=[False, True],
                               dtype=torch.float32, device=torch.device("cpu"))
    save_results(make_results(rows, device=torch.device("cpu")), "results/cpu.json")

Every implementation is a function ``fn(q, k, v, causal) -> out`` on tensors of shape
``(B, H, N, d)``. Counting conventions: a forward pass costs ``4 B H N^2 d`` FLOPs
(two matrix products of ``2 N^2 d`` each per head), half of that when causal, whatever
the implementation actually computes, so TFLOP/s compare useful work.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import platform
import statistics
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from notebook_utils.timing import peak_memory_bytes, time_call

__all__ = [
    "SCHEMA_VERSION",
    "AttentionFn",
    "attention_flops",
    "environment_info",
    "load_results",
    "make_results",
    "measure_copy_gbps",
    "measure_matmul_tflops",
    "median_time_s",
    "naive_attention",
    "run_attention_sweep",
    "save_results",
    "sdpa_backend_fns",
    "sdpa_kernel_names",
    "validate_results",
]

SCHEMA_VERSION = 1
AttentionFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, bool], torch.Tensor]
STATUSES = ("ok", "oom", "skipped", "error")


def attention_flops(batch: int, heads: int, n: int, head_dim: int, causal: bool) -> float:
    """Useful FLOPs of one attention forward: ``4 B H N^2 d``, halved when causal."""
    for name, v in (("batch", batch), ("heads", heads), ("n", n), ("head_dim", head_dim)):
        if v < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
    flops = 4.0 * batch * heads * n * n * head_dim
    return flops / 2 if causal else flops


def naive_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool
) -> torch.Tensor:
    """softmax(q kᵀ / √d) v with the ``(B, H, N, N)`` score matrix materialised."""
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))  # (B, H, N, N)
    if causal:
        n_q, n_k = q.shape[-2], k.shape[-2]
        mask = torch.ones(n_q, n_k, dtype=torch.bool, device=q.device).tril(n_k - n_q)
        scores = scores.masked_fill(~mask, float("-inf"))
    low_precision = q.dtype in (torch.float16, torch.bfloat16)  # softmax in fp32 there
    probs = torch.softmax(scores, dim=-1, dtype=torch.float32 if low_precision else None)
    return probs.to(q.dtype) @ v  # (B, H, N, d)


def sdpa_backend_fns(device: torch.device) -> dict[str, AttentionFn]:
    """One function per SDPA backend this torch build has for ``device``, each forced to it.

    Names: ``sdpa_math``, ``sdpa_flash``, ``sdpa_efficient`` (memory-efficient) and, on CUDA
    where torch has it, ``sdpa_cudnn``. A backend that cannot run a given input raises
    (recorded as an error row by the sweep), rather than silently falling back.
    """
    from torch.nn.attention import SDPBackend, sdpa_kernel

    names = {"sdpa_math": "MATH", "sdpa_flash": "FLASH_ATTENTION"}
    if device.type == "cuda":
        names["sdpa_efficient"] = "EFFICIENT_ATTENTION"
        names["sdpa_cudnn"] = "CUDNN_ATTENTION"
    fns: dict[str, AttentionFn] = {}
    for label, attr in names.items():
        backend = getattr(SDPBackend, attr, None)
        if backend is None:
            continue

        def fn(
            q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool, _b: Any = backend
        ) -> torch.Tensor:
            with sdpa_kernel(_b):
                return F.scaled_dot_product_attention(q, k, v, is_causal=causal)

        fns[label] = fn
    return fns


def sdpa_kernel_names(fn: Callable[[], Any], device: torch.device) -> list[str]:
    """The backend-specific operators (and, on CUDA, kernels) that one call of ``fn`` ran.

    Read from the torch profiler: the ``aten::_scaled_dot_product_*`` operators that
    ``F.scaled_dot_product_attention`` dispatches to name the backend that actually ran
    (e.g. ``aten::_scaled_dot_product_flash_attention``). Kernel names containing "flash",
    "fmha", "attention" or "cudnn" are added on CUDA.
    """
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    names = set()
    for ev in prof.events():
        name = ev.name
        if name.startswith("aten::_scaled_dot_product") or name == "aten::_flash_attention_forward":
            names.add(name)
        elif device.type == "cuda" and not name.startswith("aten::"):
            low = name.lower()
            if any(key in low for key in ("flash", "fmha", "attention", "cudnn")):
                names.add(name if len(name) <= 120 else name[:117] + "...")
    return sorted(names)


def median_time_s(
    fn: Callable[[], Any], device: torch.device, *, warmup: int, repeats: int
) -> tuple[float, tuple[float, float]]:
    """Median and interquartile range of ``fn()``'s duration in seconds.

    CUDA: each repeat is bracketed by CUDA events (device time, no host overhead between
    launches counted twice). CPU: :func:`notebook_utils.timing.time_call`.
    """
    if device.type != "cuda":
        t = time_call(fn, repeats=repeats, warmup=warmup)
        return t.median, t.iqr
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize(device)
    samples = []
    for _ in range(repeats):
        start = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
        end = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize(device)
        samples.append(start.elapsed_time(end) / 1e3)
    if len(samples) < 2:
        return samples[0], (samples[0], samples[0])
    q = statistics.quantiles(samples, n=4, method="inclusive")
    return statistics.median(samples), (q[0], q[2])


def measure_matmul_tflops(
    device: torch.device, dtype: torch.dtype, *, n: int = 4096, repeats: int = 10
) -> float:
    """Measured dense matmul throughput (TFLOP/s) of an ``n x n`` by ``n x n`` product."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    med, _ = median_time_s(lambda: a @ b, device, warmup=3, repeats=repeats)
    return 2.0 * n**3 / med / 1e12


def measure_copy_gbps(device: torch.device, *, n_bytes: int = 1 << 28, repeats: int = 10) -> float:
    """Measured memory bandwidth (GB/s) of a device-to-device copy (read + write counted)."""
    src = torch.empty(n_bytes, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    med, _ = median_time_s(lambda: dst.copy_(src), device, warmup=3, repeats=repeats)
    return 2.0 * n_bytes / med / 1e9


def environment_info(device: torch.device) -> dict[str, Any]:
    """Hardware, versions and date of a run, to be stored with its results."""
    try:
        import triton  # type: ignore[import-untyped,import-not-found,unused-ignore]

        triton_version: str | None = triton.__version__
    except ImportError:
        triton_version = None
    info: dict[str, Any] = {
        "device_type": device.type,
        "device_name": platform.processor() or platform.machine(),
        "driver": None,
        "cuda": None,
        "torch": torch.__version__,
        "triton": triton_version,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_threads": torch.get_num_threads(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info["device_name"] = props.name
        info["cuda"] = torch.version.cuda
        info["gpu_memory_bytes"] = int(props.total_memory)
        try:
            import subprocess

            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
                check=False,
            )
            info["driver"] = out.stdout.strip().splitlines()[0] if out.stdout.strip() else None
        except (OSError, subprocess.SubprocessError):
            info["driver"] = None
    return info


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def run_attention_sweep(
    impls: Mapping[str, AttentionFn],
    *,
    seq_lens: Iterable[int],
    total_tokens: int,
    heads: int,
    head_dims: Iterable[int],
    causal_modes: Iterable[bool],
    dtype: torch.dtype,
    device: torch.device,
    warmup: int = 2,
    repeats: int = 5,
    max_score_bytes: Mapping[str, int] | None = None,
    measure_memory: bool = True,
    record_kernels: bool = True,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Time every implementation at every configuration, at a fixed number of tokens.

    For each sequence length ``n`` the batch is ``total_tokens // n`` (so every row does the
    same number of query tokens), and ``q, k, v`` are standard normal ``(B, heads, n, d)``.
    Each row records the median time and IQR, TFLOP/s from :func:`attention_flops`, the
    peak extra memory of one call (above the inputs), the max abs error against the first
    implementation that succeeded on that configuration (``reference``), and, for SDPA
    backends, the operators that ran. ``max_score_bytes`` skips an implementation where the
    ``B·H·N²`` score matrix in ``dtype`` would exceed the given size (status ``"skipped"``);
    out-of-memory becomes status ``"oom"``, any other exception ``"error"`` with its message.
    """
    rows: list[dict[str, Any]] = []
    gen = torch.Generator(device=device).manual_seed(seed)
    elem = torch.empty((), dtype=dtype).element_size()
    for d in head_dims:
        for causal in causal_modes:
            for n in seq_lens:
                if n < 1 or total_tokens % n:
                    raise ValueError(f"seq_len {n} must divide total_tokens {total_tokens}")
                batch = total_tokens // n
                shape = (batch, heads, n, d)
                q, k, v = (
                    torch.randn(shape, generator=gen, device=device, dtype=dtype) for _ in range(3)
                )
                flops = attention_flops(batch, heads, n, d, causal)
                reference: torch.Tensor | None = None
                reference_name: str | None = None
                for name, fn in impls.items():
                    row: dict[str, Any] = {
                        "impl": name,
                        "n": n,
                        "batch": batch,
                        "heads": heads,
                        "head_dim": d,
                        "causal": causal,
                        "dtype": str(dtype).removeprefix("torch."),
                        "status": "ok",
                        "time_ms": None,
                        "time_ms_iqr": None,
                        "tflops": None,
                        "peak_memory_bytes": None,
                        "max_abs_err": None,
                        "reference": None,
                        "kernels": None,
                        "error": None,
                    }
                    limit = None if max_score_bytes is None else max_score_bytes.get(name)
                    score_bytes = batch * heads * n * n * elem
                    if limit is not None and score_bytes > limit:
                        row["status"] = "skipped"
                        row["error"] = f"score matrix {score_bytes} B > limit {limit} B"
                        rows.append(row)
                        continue

                    def call(
                        fn: AttentionFn = fn,
                        qkv: tuple[torch.Tensor, ...] = (q, k, v),
                        causal: bool = causal,
                    ) -> torch.Tensor:
                        return fn(qkv[0], qkv[1], qkv[2], causal)

                    try:
                        out = call()
                        if device.type == "cuda":
                            torch.cuda.synchronize(device)
                        if reference is None:
                            reference, reference_name = out.float(), name
                        else:
                            row["max_abs_err"] = float((out.float() - reference).abs().max())
                            row["reference"] = reference_name
                        del out
                        med, (lo, hi) = median_time_s(call, device, warmup=warmup, repeats=repeats)
                        row["time_ms"] = med * 1e3
                        row["time_ms_iqr"] = [lo * 1e3, hi * 1e3]
                        row["tflops"] = flops / med / 1e12
                        if measure_memory:
                            row["peak_memory_bytes"] = peak_memory_bytes(call, device=device)
                        if record_kernels and name.startswith("sdpa"):
                            row["kernels"] = sdpa_kernel_names(call, device)
                    except Exception as exc:  # recorded in the row, the sweep goes on
                        row["status"] = "oom" if _is_oom(exc) else "error"
                        row["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
                        if device.type == "cuda":
                            torch.cuda.empty_cache()
                    rows.append(row)
                    if progress is not None:
                        progress(
                            f"{name:>16} d={d} causal={causal!s:5} n={n:6}: {row['status']}"
                            + (f" {row['time_ms']:.3f} ms" if row["time_ms"] is not None else "")
                        )
                del q, k, v, reference
                if device.type == "cuda":
                    torch.cuda.empty_cache()
    return rows


def make_results(
    rows: list[dict[str, Any]],
    *,
    device: torch.device,
    ceilings: Mapping[str, float | None] | None = None,
    notes: str = "",
) -> dict[str, Any]:
    """The JSON document of a sweep: schema version, environment, ceilings, rows."""
    doc = {
        "schema_version": SCHEMA_VERSION,
        "environment": environment_info(device),
        "ceilings": dict(ceilings or {}),
        "notes": notes,
        "rows": rows,
    }
    validate_results(doc)
    return doc


_ROW_TYPES: dict[str, tuple[type, ...]] = {
    "impl": (str,),
    "n": (int,),
    "batch": (int,),
    "heads": (int,),
    "head_dim": (int,),
    "causal": (bool,),
    "dtype": (str,),
    "status": (str,),
}
_ROW_OPTIONAL: dict[str, tuple[type, ...]] = {
    "time_ms": (float, int),
    "time_ms_iqr": (list,),
    "tflops": (float, int),
    "peak_memory_bytes": (int,),
    "max_abs_err": (float, int),
    "reference": (str,),
    "kernels": (list,),
    "error": (str,),
}
_ENV_REQUIRED = ("device_type", "device_name", "torch", "python", "date")


def validate_results(doc: Any) -> None:
    """Raise ``ValueError`` naming the first field of ``doc`` that breaks the schema."""
    if not isinstance(doc, dict):
        raise ValueError("results: must be an object")
    if doc.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(
            f"schema_version: expected {SCHEMA_VERSION}, got {doc.get('schema_version')!r}"
        )
    env = doc.get("environment")
    if not isinstance(env, dict):
        raise ValueError("environment: must be an object")
    for key in _ENV_REQUIRED:
        if not isinstance(env.get(key), str) or not env[key]:
            raise ValueError(f"environment.{key}: must be a non-empty string")
    try:
        _dt.datetime.fromisoformat(env["date"])
    except ValueError as exc:
        raise ValueError(f"environment.date: not an ISO date ({env['date']!r})") from exc
    ceilings = doc.get("ceilings")
    if not isinstance(ceilings, dict):
        raise ValueError("ceilings: must be an object")
    for key, value in ceilings.items():
        if value is not None and (not isinstance(value, int | float) or value <= 0):
            raise ValueError(f"ceilings.{key}: must be a positive number or null")
    rows = doc.get("rows")
    if not isinstance(rows, list) or not rows:
        raise ValueError("rows: must be a non-empty list")
    for i, row in enumerate(rows):
        where = f"rows[{i}]"
        if not isinstance(row, dict):
            raise ValueError(f"{where}: must be an object")
        for key, types in _ROW_TYPES.items():
            value = row.get(key)
            if not isinstance(value, types) or (types == (int,) and isinstance(value, bool)):
                raise ValueError(f"{where}.{key}: expected {types[0].__name__}, got {value!r}")
        for key in ("n", "batch", "heads", "head_dim"):
            if row[key] < 1:
                raise ValueError(f"{where}.{key}: must be >= 1")
        if row["status"] not in STATUSES:
            raise ValueError(f"{where}.status: must be one of {STATUSES}")
        for key, types in _ROW_OPTIONAL.items():
            value = row.get(key)
            if value is not None and not isinstance(value, types):
                raise ValueError(f"{where}.{key}: expected {types[0].__name__} or null")
        if row["status"] == "ok":
            for key in ("time_ms", "tflops"):
                if row.get(key) is None or not math.isfinite(row[key]) or row[key] <= 0:
                    raise ValueError(f"{where}.{key}: an ok row needs a positive {key}")
            flops = attention_flops(
                row["batch"], row["heads"], row["n"], row["head_dim"], row["causal"]
            )
            implied = flops / (row["time_ms"] / 1e3) / 1e12
            if not math.isclose(implied, row["tflops"], rel_tol=1e-6):
                raise ValueError(f"{where}.tflops: {row['tflops']} != FLOPs / time = {implied}")
        elif not row.get("error"):
            raise ValueError(f"{where}.error: a row with status {row['status']!r} needs a reason")


def save_results(doc: dict[str, Any], path: str | Path) -> Path:
    """Validate ``doc`` and write it as indented JSON; returns the path."""
    validate_results(doc)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return p


def load_results(path: str | Path) -> dict[str, Any]:
    """Read and validate a results file written by :func:`save_results`."""
    doc: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    validate_results(doc)
    return doc
