"""The results as Markdown tables (printed and written to ``results.md``)."""
from __future__ import annotations

from typing import Any

from cnnlessons.io import markdown_table

TITLES = {
    "lessons": "1. Lesson wall times (papermill, fresh kernel each)",
    "training": "2. Training throughput: `fit` vs a bare loop",
    "cuda": "3. CUDA: bf16 autocast + channels_last vs float32",
    "data": "4. Data: generation rate and batching overhead",
}


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return markdown_table(header, rows).splitlines()


def _f(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def environment(env: dict[str, Any]) -> list[str]:
    keys = ["date_utc", "cpu", "cpu_cores", "usable_cores", "torch_threads", "OMP_NUM_THREADS",
            "load_average_1min", "load_average_1min_end", "gpu",
            "gpu_memory_gib", "cuda", "cudnn", "python", "torch", "torchvision", "platform"]
    return _table(["", "value"], [[k, env[k]] for k in keys if env.get(k) is not None])


def lessons(section: dict[str, Any]) -> list[str]:
    """The lesson table (a total per preset), then, where lessons ran at both their defaults and
    their demo preset, how much of the default's time the demo takes: in all, and above the
    start-up row (a kernel that only imports), the part a preset can change."""
    startup = section.get("startup_s")
    rows = [[r["lesson"], r["parameters"], _f(r["seconds"]), _f(r.get("cpu_seconds")), r.get("runs", ""), r["status"]]
            for r in section["rows"]]
    by_preset = section.get("total_by_preset")
    if not by_preset:  # results written before totals were kept per preset
        rows.append([f"**total** ({section['lessons_run']} of {section['lessons']} ran)", "", _f(section["total_s"]), "", "", ""])
    for preset, seconds in (by_preset or {}).items():  # one course total per preset
        of = [r for r in section["rows"] if r["parameters"] == preset]
        ran = sum(r["seconds"] is not None for r in of)
        cpu = sum(r.get("cpu_seconds") or 0.0 for r in of)
        rows.append([f"**total** ({ran} of {len(of)} ran)", preset, _f(seconds), _f(cpu) if cpu else "", "", ""])
    if startup is not None:
        rows.insert(0, ["start-up (kernel + imports)", "-", _f(startup), "", "", "ok"])
    lines = _table(["lesson", "parameters", "seconds", "CPU seconds", "runs", "status"], rows)
    ratios = demo_ratios(section)
    if ratios:
        lines += ["", "Demo preset against default:", ""]
        lines += _table(["lesson", "default s", "demo s", "demo / default", "demo / default above start-up"],
                        [[r["lesson"], _f(r["default"]), _f(r["demo"]), _f(r["ratio"], 2),
                          _f(r["ratio_above_startup"], 2)] for r in ratios])
    return lines


def demo_ratios(section: dict[str, Any]) -> list[dict[str, Any]]:
    """Per lesson timed at both presets: default and demo seconds, demo / default, and the same
    ratio after taking the start-up time off both (``None`` without a start-up row)."""
    times: dict[str, dict[str, float]] = {}
    for r in section["rows"]:
        if r["seconds"] is not None:
            times.setdefault(r["lesson"], {})[r["parameters"]] = r["seconds"]
    startup = section.get("startup_s")
    out = []
    for lesson, t in times.items():
        if "default" in t and "demo" in t:
            above = (None if startup is None or t["default"] <= startup
                     else max(t["demo"] - startup, 0.0) / (t["default"] - startup))
            out.append({"lesson": lesson, "default": t["default"], "demo": t["demo"],
                        "ratio": t["demo"] / t["default"], "ratio_above_startup": above})
    return out


def _throughput_rows(rows: list[dict[str, Any]], extra: bool = False) -> list[list[Any]]:
    out = []
    for r in rows:
        row = [r["variant"], r["model"], r["device"], r["batch_size"], f"{r['steps']} x {r['repeats']}",
               _f(r["images_per_s"], 0), f"{_f(r['images_per_s_min'], 0)}-{_f(r['images_per_s_max'], 0)}",
               _f(r["ms_per_step"], 2), _f(r["cpu_ms_per_step"], 2)]
        if extra:
            row += [_f(r["tera_mac_per_s"], 2), _f(r["percent_of_bf16_peak"], 1)]
        out.append(row)
    return out


HEAD = ["variant", "model", "device", "batch", "steps x repeats", "images/s (median)", "range", "ms/step",
        "CPU ms/step"]


def training(section: dict[str, Any]) -> list[str]:
    rows = [row for m in section["models"].values() for row in m["rows"]]
    lines = _table(HEAD, _throughput_rows(rows))
    lines += ["", f"Data: {section['images']} `make_shapes` images, {section['size']}x{section['size']}; "
              "SGD (lr 0.05, momentum 0.9, wd 5e-4); median of interleaved repeats.", ""]
    ratios = []
    for name, m in section["models"].items():
        for key, label in (("fit_vs_bare", "fit / bare"), ("fit_with_bar_vs_bare", "fit with bar / bare")):
            r = m[key]
            ratios.append([name, label, f"{r['ratio']:.3f}", f"{r['paired_ratio']:.3f}",
                           f"{r['overhead_percent']:+.1f}%", f"{r['cpu_paired_ratio']:.3f}",
                           f"{r['cpu_overhead_us_per_step']:+,.0f}"])
    lines += _table(["model", "comparison", "throughput ratio (medians)", "paired ratio (median)",
                     "wall-time overhead", "CPU-time ratio (paired)", "CPU us/step extra"], ratios)
    lines += ["", "Ratios are bare-loop time / helper time (1.000 = no cost; 0.95 = 5% slower). "
              "CPU time counts only this process, so it is the steadier measure on a shared machine."]
    return lines


def cuda(section: dict[str, Any]) -> list[str]:
    if "skipped" in section:
        return [f"skipped: {section['skipped']}"]
    lines = _table(HEAD + ["T MAC/s", "% of bf16 peak"], _throughput_rows(section["rows"], extra=True))
    peak = section["bf16_dense_peak_tflops"]
    lines += ["", f"Device: {section['device']}; dense bf16 peak "
              f"{_f(peak) + ' TFLOPS = ' + _f(peak / 2) + ' T MAC/s' if peak else 'unknown (not in the table)'}. "
              f"Forward multiply-adds per image: {section['forward_macs_per_image']:,} ({section['macs_source']}); "
              "a training step counted as 3x forward; 1 MAC = 2 FLOPs. "
              f"float32 convolutions may use TF32 (cudnn.allow_tf32={section['cudnn_allow_tf32']}).", ""]
    ratios = [[label, f"{section[key]['ratio']:.3f}", f"{section[key]['paired_ratio']:.3f}",
               f"{section[key]['overhead_percent']:+.1f}%"]
              for key, label in (("bf16_vs_float32_fit", "fit: bf16+CL / float32"),
                                 ("bf16_vs_float32_bare", "bare: bf16+CL / float32"),
                                 ("fit_vs_bare_bf16", "fit / bare (bf16+CL)"))]
    lines += _table(["comparison", "throughput ratio (medians)", "median of paired ratios", "time difference"],
                    ratios)
    return lines


def data(section: dict[str, Any]) -> list[str]:
    g = section["generation"]
    lines = _table(["measure", "value"], [
        [f"`make_shapes` rate ({g['images']} images, {g['size']}x{g['size']}, median of {g['repeats']})",
         f"{_f(g['images_per_s'], 0)} images/s (range {_f(g['images_per_s_min'], 0)}-{_f(g['images_per_s_max'], 0)})"],
        ["... per second of this process's CPU time", f"{_f(g['images_per_cpu_s'], 0)} images/CPU-s"],
    ])
    load = section.get("loading")
    if load:
        lines += ["", f"`Batches` iteration (shuffle + index, batch {load['batch_size']}, {load['device']}): "
                  f"{_f(load['us_per_batch'], 0)} us per batch (CPU time {_f(load['cpu_us_per_batch'], 0)} us).", ""]
        lines += _table(["model", "bare step (ms)", "batching share of a step", "CPU step (ms)", "CPU-time share"],
                        [[m, _f(v["step_ms"], 2), f"{v['percent_of_step']:.2f}%", _f(v["cpu_step_ms"], 2),
                          f"{v['cpu_percent_of_step']:.2f}%"] for m, v in load["per_model"].items()])
    return lines


RENDER = {"lessons": lessons, "training": training, "cuda": cuda, "data": data}


def markdown(results: dict[str, Any]) -> str:
    """The whole report: environment, then each section (or why it was skipped)."""
    lines = ["# cnnlessons benchmarks", "", "## Environment", ""] + environment(results["environment"])
    for key, title in TITLES.items():
        lines += ["", f"## {title}", ""]
        section = results["sections"].get(key)
        if section is None or (isinstance(section, dict) and "skipped" in section and key != "cuda"):
            lines.append(f"skipped: {section['skipped'] if section else 'not requested'}")
        else:
            lines += RENDER[key](section)
    return "\n".join(lines) + "\n"
