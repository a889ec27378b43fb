"""A closed-loop load generator: N concurrent clients spread over worker processes.

Each client runs ``make_request(client_index, sequence) -> bool`` as fast as answers come
back for a fixed duration; we record per-request latency and whether it was accepted.
"""

from __future__ import annotations

import multiprocessing as mp
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Figures:
    """What one run measured."""

    concurrency: int
    seconds: float
    requests: int
    accepted: int
    errors: int
    p50_ms: float
    p99_ms: float
    #: The load generator's own CPU per request (its worker processes, while they ran): on
    #: this machine it shares the cores with what it measures.
    client_cpu_ms_per_request: float = float("nan")

    @property
    def accepted_per_second(self) -> float:
        return self.accepted / self.seconds

    def as_dict(self) -> dict:
        return {**self.__dict__, "accepted_per_second": round(self.accepted_per_second, 1)}


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _worker(factory, first_client: int, clients: int, duration: float, start_at: float, queue):
    make_request = factory()
    latencies, accepted, errors = [], [0], [0]
    lock = threading.Lock()

    def client(index: int) -> None:
        sequence = 0
        local_latencies, local_accepted, local_errors = [], 0, 0
        while time.time() < start_at:
            time.sleep(0.001)
        deadline = start_at + duration
        while time.time() < deadline:
            began = time.perf_counter()
            try:
                ok = make_request(index, sequence)
            except Exception:
                ok, local_errors = False, local_errors + 1
            local_latencies.append(time.perf_counter() - began)
            local_accepted += bool(ok)
            sequence += 1
        with lock:
            latencies.extend(local_latencies)
            accepted[0] += local_accepted
            errors[0] += local_errors

    threads = [threading.Thread(target=client, args=(first_client + i,)) for i in range(clients)]
    cpu_before = time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put((latencies, accepted[0], errors[0], time.process_time() - cpu_before))


def run_load(factory: Callable[[], Callable[[int, int], bool]], concurrency: int,
             duration: float, processes: int = 2) -> Figures:
    """Run ``concurrency`` clients for ``duration`` seconds; ``factory`` builds, in each worker
    process, the function that makes one request."""
    processes = max(1, min(processes, concurrency))
    share = [concurrency // processes + (i < concurrency % processes) for i in range(processes)]
    queue: mp.Queue = mp.Queue()
    start_at = time.time() + 1.0
    workers, first = [], 0
    for clients in share:
        worker = mp.Process(target=_worker,
                            args=(factory, first, clients, duration, start_at, queue))
        worker.start()
        workers.append(worker)
        first += clients
    results = [queue.get() for _ in workers]
    for worker in workers:
        worker.join()
    latencies = [value for result in results for value in result[0]]
    return Figures(
        concurrency=concurrency, seconds=duration, requests=len(latencies),
        accepted=sum(r[1] for r in results), errors=sum(r[2] for r in results),
        p50_ms=round(statistics.median(latencies) * 1000, 2) if latencies else float("nan"),
        p99_ms=round(_percentile(latencies, 0.99) * 1000, 2),
        client_cpu_ms_per_request=round(
            sum(r[3] for r in results) * 1000 / max(len(latencies), 1), 3),
    )
