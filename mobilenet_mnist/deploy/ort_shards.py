"""Large batches on ONNX Runtime: one single-threaded session per thread, cache-sized chunks.

One ONNX Runtime session with N intra-op threads splits every layer across the threads
and meets at a barrier after each of the network's 28 layers; at batch 256 the early
32×32 activations (128 KiB per image per layer at α = 1) also spill out of the caches.
For large batches it is faster to give each thread its own slice of the batch and its own
single-threaded session (no barriers), and to run each slice in chunks of about 32 images
at 32×32 (the activations of a chunk stay in the cache). Measured with α = 1 at 32 px,
batch 256, 2 threads: 2,053 → 2,208 images/s fp32 and 5,228 → 5,588 int8 (medians of 15
calls; ``mobilenet-mnist benchmark`` reports the path as a whole).

:class:`ShardedRunner` does that for :class:`~.ort_backend.OnnxRuntimeModule`; small
batches (below :data:`MIN_SHARDED_BATCH`) keep the one multi-threaded session, which has
the lower latency.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

__all__ = ["CHUNK_PIXELS", "MIN_SHARDED_BATCH", "ShardedRunner", "chunk_size"]

#: Input pixels per chunk: 32 images of 32×32 (a chunk's activations stay in the cache).
CHUNK_PIXELS = 32 * 32 * 32

#: Smallest batch that is split across threads: below it each thread would get under 8 images.
MIN_SHARDED_BATCH = 16


def chunk_size(height: int, width: int) -> int:
    """Images per chunk for inputs of ``height`` × ``width``: :data:`CHUNK_PIXELS` worth, at least 1."""
    return max(1, CHUNK_PIXELS // (height * width))


class ShardedRunner:
    """Runs a batch as per-thread slices, each on its own single-threaded session, in chunks.

    Sessions and worker threads are created on first use (a model that only ever sees
    small batches pays nothing) and are safe to share between calling threads.

    Args:
        new_session: Builds one ONNX Runtime session with the given number of intra-op threads.
        num_threads: How many slices (threads, sessions) a large batch is split into.
        output_name: The graph output to fetch.
        input_name: The graph input to feed.
    """

    def __init__(self, new_session: Callable[[int], Any], num_threads: int, output_name: str,
                 input_name: str) -> None:  # fmt: skip
        self.num_threads = num_threads
        self._new_session = new_session
        self._names = (output_name, input_name)
        self._lock = threading.Lock()
        self._sessions: list[Any] = []
        self._pool: ThreadPoolExecutor | None = None
        self._pid = os.getpid()

    def wants(self, batch: int) -> bool:
        """Whether a batch of this size is worth splitting (several threads, large enough)."""
        return self.num_threads > 1 and batch >= MIN_SHARDED_BATCH

    def run(self, array: np.ndarray) -> np.ndarray:
        """The graph's output for ``array`` (N, C, H, W), computed in per-thread slices."""
        sessions, pool = self._ready()
        chunk = chunk_size(*array.shape[2:])
        slices = np.array_split(array, self.num_threads)
        futures = [
            pool.submit(self._run_slice, session, part, chunk)
            for session, part in zip(sessions[1:], slices[1:], strict=True)
        ]
        first = self._run_slice(sessions[0], slices[0], chunk)  # the calling thread takes a slice too
        return np.concatenate([first, *(f.result() for f in futures)])

    def _run_slice(self, session: Any, part: np.ndarray, chunk: int) -> np.ndarray:
        output, name = self._names
        pieces = [session.run([output], {name: part[i:i + chunk]})[0] for i in range(0, len(part), chunk)]
        return np.concatenate(pieces)

    def _ready(self) -> tuple[list[Any], ThreadPoolExecutor]:
        """The sessions and worker threads, built once (under a lock: concurrent first calls).

        Built again in a forked child process: a pool's threads do not survive ``fork``
        (work handed to them would wait forever).
        """
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._sessions = [self._new_session(1) for _ in range(self.num_threads)]
                self._pool = ThreadPoolExecutor(self.num_threads - 1, thread_name_prefix="mobilenet-mnist-ort")
            return self._sessions, self._pool

    def close(self) -> None:
        """Stop the worker threads and drop the sessions (they are rebuilt if needed again)."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False)
            self._pool, self._sessions = None, []
