"""Benchmarks for the course (``make bench`` / ``python -m benchmarks.run``).

Numbers live here, never in tests. Sections:

1. ``lessons``: wall time of every lesson executed through papermill, and the course total;
2. ``training``: images/s of ``cnnlessons.train.fit`` against a bare loop doing the same work;
3. ``cuda``: bf16 autocast + channels_last against float32, and multiply-adds/s against the
   device's bf16 peak (skipped without CUDA);
4. ``data``: procedural image generation rate and the data-loading share of a training step.
"""
