"""The attention profiling harness, on CPU."""

import copy
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from notebook_utils.attention_bench import (
    attention_flops,
    load_results,
    make_results,
    measure_copy_gbps,
    measure_matmul_tflops,
    naive_attention,
    run_attention_sweep,
    save_results,
    sdpa_backend_fns,
    sdpa_kernel_names,
    validate_results,
)

CPU = torch.device("cpu")


def test_flops_formula() -> None:
    assert attention_flops(2, 3, 128, 64, causal=False) == 4 * 2 * 3 * 128**2 * 64
    assert attention_flops(2, 3, 128, 64, causal=True) == 2 * 2 * 3 * 128**2 * 64
    with pytest.raises(ValueError):
        attention_flops(0, 1, 1, 1, causal=False)


@pytest.mark.parametrize("causal", [False, True])
def test_naive_and_every_sdpa_backend_agree(causal: bool) -> None:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 33, 16, generator=g, dtype=torch.float64) for _ in range(3))
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(naive_attention(q, k, v, causal), ref, rtol=0, atol=1e-12)
    fns = sdpa_backend_fns(CPU)
    assert {"sdpa_math", "sdpa_flash"} <= set(fns)
    for fn in fns.values():
        torch.testing.assert_close(fn(q, k, v, causal), ref, rtol=0, atol=1e-12)


def test_kernel_names_tell_the_backends_apart() -> None:
    q = k = v = torch.randn(1, 2, 64, 32)
    fns = sdpa_backend_fns(CPU)
    flash = sdpa_kernel_names(lambda: fns["sdpa_flash"](q, k, v, False), CPU)
    math_ = sdpa_kernel_names(lambda: fns["sdpa_math"](q, k, v, False), CPU)
    assert any("flash" in n for n in flash), flash
    assert math_ != flash and not any("flash" in n for n in math_), math_


def _sweep() -> list[dict[str, object]]:
    impls = {"naive": naive_attention, **sdpa_backend_fns(CPU)}
    return run_attention_sweep(
        impls,
        seq_lens=[32, 64],
        total_tokens=128,
        heads=2,
        head_dims=[16],
        causal_modes=[False, True],
        dtype=torch.float32,
        device=CPU,
        warmup=1,
        repeats=3,
        max_score_bytes={"naive": 2 * 2 * 64 * 64 * 4 - 1},  # skips naive at n=64
    )


def test_sweep_rows_and_json_round_trip(tmp_path: Path) -> None:
    rows = _sweep()
    assert len(rows) == 2 * 2 * 3  # causal modes x lengths x impls
    by = {(r["impl"], r["n"], r["causal"]): r for r in rows}
    assert by[("naive", 64, False)]["status"] == "skipped"
    ok = by[("sdpa_flash", 32, True)]
    assert ok["status"] == "ok" and ok["batch"] == 4 and ok["reference"] == "naive"
    assert ok["max_abs_err"] < 1e-5 and ok["time_ms"] > 0 and ok["peak_memory_bytes"] >= 0
    assert any("flash" in name for name in ok["kernels"])
    doc = make_results(rows, device=CPU, ceilings={"matmul_tflops": 1.0}, notes="test")
    path = save_results(doc, tmp_path / "r.json")
    assert load_results(path) == json.loads(path.read_text())
    assert doc["environment"]["torch"] == torch.__version__


def test_validation_names_the_bad_field() -> None:
    doc = make_results(_sweep(), device=CPU)
    ok_index = next(i for i, r in enumerate(doc["rows"]) if r["status"] == "ok")
    cases = {
        "schema_version": lambda d: d.update(schema_version=99),
        "environment.date": lambda d: d["environment"].update(date="yesterday"),
        f"rows[{ok_index}].tflops": lambda d: d["rows"][ok_index].update(tflops=123.0),
        f"rows[{ok_index}].status": lambda d: d["rows"][ok_index].update(status="fine"),
        f"rows[{ok_index}].n": lambda d: d["rows"][ok_index].update(n=True),
        "ceilings.matmul_tflops": lambda d: d["ceilings"].update(matmul_tflops=-1),
        "rows:": lambda d: d.update(rows=[]),
    }
    for field, breaker in cases.items():
        bad = copy.deepcopy(doc)
        breaker(bad)
        with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
            validate_results(bad)


def test_ceilings_are_positive_on_cpu() -> None:
    assert measure_matmul_tflops(CPU, torch.float32, n=128, repeats=3) > 0
    assert measure_copy_gbps(CPU, n_bytes=1 << 20, repeats=3) > 0
