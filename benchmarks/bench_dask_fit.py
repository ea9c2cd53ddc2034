"""Fit a map larger than memory chunk by chunk with dask, under a memory limit per worker.

Run from the repository root::

    python benchmarks/bench_dask_fit.py                       # 4 GB of spectra, 1.5 GB per worker
    python benchmarks/bench_dask_fit.py --size-gb 0.5 --workers 1 2 --small 60

What it does, all in one run:

1. Writes a synthetic XPS map (C 1s-like: two GL(30) lines + linear background, Poisson counts,
   float64, ``--points`` per spectrum) of ``--size-gb`` gigabytes to a specfit HDF5 file, streaming it
   chunk by chunk (the file is never in memory as a whole).
2. For each worker count in ``--workers``: starts a local ``dask.distributed`` cluster with
   ``--memory-limit`` per worker process (one thread each), opens the file lazily
   (``specfit.read(path, chunks=...)``), fits every spectrum with ``specfit.fit(..., client=...)``,
   and reports spectra per second, the peak memory of the cluster (dask's MemorySampler, all workers
   summed) and whether any worker was restarted or ran into its limit.
3. On a small map that fits in memory (``--small`` x ``--small`` spectra from the same generator),
   fits in memory (no dask) and through dask on the same cluster sizes, checks that the results are
   equal, and reports the dask/in-memory speed ratio.

The file goes to ``--dir`` (default: a temporary folder) and is deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import specfit
from specfit.conventions import make_leaf
from specfit.parallel import get_client

MODEL = """
range = [280.0, 292.0]
[background]
type = "linear"
[[components]]
name = "CC"
shape = "GL(30)"
position = 284.8
position_min = 284.0
position_max = 285.6
fwhm = 1.2
fwhm_min = 0.6
fwhm_max = 2.0
[[components]]
name = "CO"
shape = "GL(30)"
position = 286.4
position_min = 285.8
position_max = 287.0
fwhm = "CC"
"""


def _gl(x, area, center, fwhm):
    sigma = fwhm / 2.3548
    return area * np.exp(-0.5 * ((x - center) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))


def _spectra_block(block_id_y: int, ny: int, nx: int, x: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(block_id_y)
    ratio = rng.uniform(0.2, 0.8, (ny, nx, 1))
    shift = rng.normal(0.0, 0.1, (ny, nx, 1))
    y = 200.0 + _gl(x, 4000.0, 284.8 + shift, 1.1) + ratio * _gl(x, 4000.0, 286.4 + shift, 1.1)
    return rng.poisson(y).astype(np.float64)


def make_map(path: Path, ny: int, nx: int, points: int, rows_per_chunk: int) -> None:
    """Write a (y, x, binding_energy) map, generated chunk by chunk (dask) and streamed to HDF5."""
    import dask.array as dsa

    x = np.linspace(292.0, 280.0, points)
    blocks = [
        dsa.from_delayed(
            __import__("dask").delayed(_spectra_block)(i, min(rows_per_chunk, ny - y0), nx, x),
            shape=(min(rows_per_chunk, ny - y0), nx, points),
            dtype=np.float64,
        )
        for i, y0 in enumerate(range(0, ny, rows_per_chunk))
    ]
    data = dsa.concatenate(blocks, axis=0)
    leaf = make_leaf(
        np.zeros((1, 1, points)),
        "binding_energy",
        x,
        units="counts",
        extra_dims={"y": [0.0], "x": [0.0]},
        attrs={"technique": "xps", "source_format": "netcdf", "region": "C 1s", "synthetic": 1},
    )
    leaf = leaf.drop_vars("intensity").assign_coords(y=np.arange(ny) * 1.0, x=np.arange(nx) * 1.0)
    leaf["intensity"] = xr.Variable(("y", "x", "binding_energy"), data, {"units": "counts", "long_name": "Intensity"})
    specfit.save(xr.DataTree.from_dict({"/C 1s": leaf}), path, overwrite=True)


def fit_on_cluster(path: Path, workers: int, memory_limit: str, chunk_rows: int) -> dict:
    from distributed.diagnostics import MemorySampler

    client = get_client(n_workers=workers, threads_per_worker=1, memory_limit=memory_limit)
    sampler = MemorySampler()
    model = specfit.Model.from_toml(MODEL)
    try:
        tree = specfit.read(path, chunks={"y": chunk_rows})
        n = int(np.prod(tree["C 1s"]["intensity"].shape[:-1]))
        start = time.perf_counter()
        with sampler.sample("fit", interval=0.5):
            result = specfit.fit(tree, model, client=client)
        elapsed = time.perf_counter() - start
        restarts = sum(
            info.get("nanny_restarts", 0) if isinstance(info, dict) else 0
            for info in client.scheduler_info().get("workers", {}).values()
        )
        converged = int(result.dataset["success"].sum())
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
    series = sampler.to_pandas()
    peak = float(series.max().iloc[0]) if len(series) else float("nan")
    return {
        "workers": workers,
        "spectra": n,
        "seconds": elapsed,
        "spectra_per_s": n / elapsed,
        "peak_cluster_memory_gb": peak / 1e9,
        "limit_total_gb": workers * _to_gb(memory_limit),
        "worker_restarts": restarts,
        "converged": converged,
        "result": result,
    }


def _to_gb(text: str) -> float:
    from dask.utils import parse_bytes

    return parse_bytes(text) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-gb", type=float, default=4.0)
    ap.add_argument("--points", type=int, default=500)
    ap.add_argument("--memory-limit", default="1.5GB")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--chunk-rows", type=int, default=8, help="map rows per chunk (task)")
    ap.add_argument("--small", type=int, default=80, help="side of the in-memory comparison map")
    ap.add_argument("--dir", type=Path)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    folder = args.dir or Path(tempfile.mkdtemp(prefix="specfit-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    report: dict = {"settings": {k: str(v) for k, v in vars(args).items()}}
    try:
        # --- in-memory comparison on a map that fits
        small = folder / "small.h5"
        make_map(small, args.small, args.small, args.points, args.chunk_rows)
        model = specfit.Model.from_toml(MODEL)
        in_memory = specfit.read(small)
        t0 = time.perf_counter()
        eager = specfit.fit(in_memory, model)
        t_eager = time.perf_counter() - t0
        n_small = args.small**2
        report["in_memory"] = {"spectra": n_small, "seconds": t_eager, "spectra_per_s": n_small / t_eager}
        print(f"in memory: {n_small} spectra in {t_eager:.2f} s = {n_small / t_eager:.0f} spectra/s", flush=True)
        for w in args.workers:
            r = fit_on_cluster(small, w, args.memory_limit, args.chunk_rows)
            same = all(
                np.allclose(r["result"].dataset[v].values, eager.dataset[v].values, rtol=1e-9, atol=1e-12)
                for v in eager.dataset.data_vars
                if eager.dataset[v].dtype.kind == "f"
            )
            ratio = r["spectra_per_s"] / report["in_memory"]["spectra_per_s"]
            print(
                f"small map, dask {w} worker(s): {r['spectra_per_s']:.0f} spectra/s, ratio to in-memory {ratio:.2f}, "
                f"results equal: {same}",
                flush=True,
            )
            report[f"small_dask_{w}"] = {k: v for k, v in r.items() if k != "result"} | {
                "ratio_to_in_memory": ratio,
                "equal_to_in_memory": bool(same),
            }

        # --- the big map
        ny = nx = int(np.sqrt(args.size_gb * 1e9 / (8 * args.points)))
        big = folder / "big.h5"
        t0 = time.perf_counter()
        make_map(big, ny, nx, args.points, args.chunk_rows)
        size = big.stat().st_size / 1e9
        print(f"wrote {ny} x {nx} x {args.points} map: {size:.2f} GB in {time.perf_counter() - t0:.0f} s", flush=True)
        report["big_map"] = {"ny": ny, "nx": nx, "points": args.points, "file_gb": size}
        for w in args.workers:
            r = fit_on_cluster(big, w, args.memory_limit, args.chunk_rows)
            print(
                f"big map, {w} worker(s) at {args.memory_limit}: {r['spectra']} spectra in {r['seconds']:.0f} s = "
                f"{r['spectra_per_s']:.0f} spectra/s; peak cluster memory {r['peak_cluster_memory_gb']:.2f} GB "
                f"(limit {r['limit_total_gb']:.2f} GB); worker restarts {r['worker_restarts']}; "
                f"converged {r['converged']}/{r['spectra']}",
                flush=True,
            )
            report[f"big_dask_{w}"] = {k: v for k, v in r.items() if k != "result"}
        print(json.dumps(report, indent=2, default=str))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
