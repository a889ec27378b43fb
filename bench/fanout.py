"""``python -m bench.fanout``: one bid stream watched by 100, 1,000 and 5,000 Socket.IO clients.

Starts the local distributed shape, connects the watchers (asyncio clients over websocket,
spread over worker processes) to the gateway, places a stream of bids, and measures, for every
delivery, the time from the bid's placement under the row lock (``placed_at``, the database's
clock, a little before its commit) to the client's receipt, split into the pipeline (outbox,
relay, RabbitMQ, to the Socket.IO process's emit: ``server_time``) and the fan-out (emit to
receipt). Also the CPU the Socket.IO processes spend per delivery (psutil: less sensitive to
the machine's load than the latencies, since the watchers share the cores with the servers),
less what they spend idle with the same clients connected (pings), and the watchers' own CPU
per delivery. Writes bench/results/fanout.{json,md}.
"""

from __future__ import annotations

import asyncio
import gc
import json
import multiprocessing as mp
import os
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psutil
from socketio import packet as sio

from tests.support.api import Api
from tools import provision
from tools.services import ROOT
from tools.stack import Stack, _local_postgres, free_port

RESULTS = ROOT / "bench" / "results"
WATCHERS = [int(n) for n in os.environ.get("BENCH_WATCHERS", "100,1000,5000").split(",")]
BIDS = int(os.environ.get("BENCH_BIDS", "20"))
BID_INTERVAL = float(os.environ.get("BENCH_BID_INTERVAL", "0.25"))
PROCESSES = 2
REALTIME = int(os.environ.get("BENCH_REALTIME", "2"))  # Socket.IO processes
#: The watchers' clients, each scenario run with each: "lean" (a websocket speaking Socket.IO
#: with python-socketio's packet classes, keeping what it receives to decode after the run, as
#: a browser would on a machine of its own) and "python-socketio" (its ``AsyncClient``, which
#: spends ~190 µs of CPU per event, a task and a timeout each: twice to three times what the
#: server spends per delivery, on the same two cores, so that its figures measure the watchers).
CLIENTS = os.environ.get("BENCH_CLIENT", "lean,python-socketio").split(",")
#: The realtime processes' CPU with every watcher connected, before the bids: one ping interval
#: (the server's 20 s), so that every socket's ping is in it once, as during the bids.
IDLE_SECONDS = 20.0


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


async def _watch_lean(url: str, auction_id: str, count: int, received: list) -> list:
    """``count`` websockets speaking Socket.IO as a browser's client does: the handshake and
    the ``watch`` call (python-socketio's packet classes), a pong for each ping, and each
    Socket.IO packet after that recorded as (receipt time, packet). Returns the closers."""
    import aiohttp
    from engineio import packet as eio

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    address = url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"

    def message(packet: sio.Packet) -> str:
        return eio.Packet(eio.MESSAGE, packet.encode()).encode()

    ping, pong, message_type = str(eio.PING), eio.Packet(eio.PONG).encode(), str(eio.MESSAGE)

    async def handshake(ws, watching: asyncio.Future, packet: str) -> None:
        event = sio.Packet(encoded_packet=packet)
        if event.packet_type == sio.CONNECT:
            await ws.send_str(message(sio.Packet(
                sio.EVENT, data=["watch", {"auction_id": auction_id}], id=1)))
        elif event.packet_type == sio.ACK:
            watching.set_result(event.data[0])
        elif event.packet_type == sio.CONNECT_ERROR:
            watching.set_exception(RuntimeError(f"refused: {event.data}"))

    async def read(ws, watching: asyncio.Future) -> None:
        async for frame in ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                break
            now = time.time()
            text = frame.data  # one Engine.IO packet: its type's digit, then its data
            if text == ping:
                await ws.send_str(pong)
            elif text[0] == message_type and watching.done():
                # Decoded after the run, off the cores the fan-out is measured on.
                received.append((now, text[1:]))
            elif text[0] == message_type:
                await handshake(ws, watching, text[1:])

    sockets, readers = [], []

    async def one() -> None:
        ws = await session.ws_connect(address)
        opened = eio.Packet(encoded_packet=await ws.receive_str())
        assert opened.packet_type == eio.OPEN, opened.data
        watching = asyncio.get_running_loop().create_future()
        readers.append(asyncio.create_task(read(ws, watching)))
        await ws.send_str(message(sio.Packet(sio.CONNECT)))
        answer = await asyncio.wait_for(watching, 60)
        assert answer.get("ok"), answer
        sockets.append(ws)

    for start in range(0, count, 100):  # connect in waves, not all at once
        await asyncio.gather(*(one() for _ in range(min(100, count - start))))

    async def close() -> None:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        await asyncio.gather(*readers, return_exceptions=True)
        await session.close()

    return [close]


async def _watch_python_socketio(url: str, auction_id: str, count: int, received: list) -> list:
    """``count`` python-socketio ``AsyncClient``s watching; returns their closers."""
    import socketio

    clients = []

    async def one() -> None:
        client = socketio.AsyncClient(reconnection=False)

        @client.on("bid.placed")
        async def _placed(data):
            received.append((time.time(), data))

        await client.connect(url, transports=["websocket"], wait_timeout=60)
        await client.call("watch", {"auction_id": auction_id}, timeout=60)
        clients.append(client)

    for start in range(0, count, 100):  # connect in waves, not all at once
        await asyncio.gather(*(one() for _ in range(min(100, count - start))))
    return [client.disconnect for client in clients]


async def _watch(client: str, url: str, auction_id: str, count: int, ready, done,
                 out: list) -> None:
    """Connect ``count`` watchers, record each delivery in ``out`` until ``done``."""
    received: list = []
    connect = _watch_lean if client == "lean" else _watch_python_socketio
    closers = await connect(url, auction_id, count, received)
    # The watchers' processes hold thousands of connections, each a browser's on a machine of
    # its own: their collector is kept off them (a full collection walked all 2,500 of a
    # process's connections for ~150 ms, which the figures counted as the fan-out's).
    gc.freeze()
    gc.disable()
    ready.set()
    while not done.is_set():
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    gc.enable()
    await asyncio.gather(*(close() for close in closers), return_exceptions=True)
    # Parsed after the run, not on the cores while the fan-out is measured.
    for now, data in received:
        if isinstance(data, str):  # a Socket.IO packet the lean client kept as it came
            packet = sio.Packet(encoded_packet=data)
            if packet.packet_type != sio.EVENT or packet.data[0] != "bid.placed":
                continue
            data = packet.data[1]
        placed, emitted = _seconds(data["placed_at"]), _seconds(data["server_time"])
        out.append((now - placed, emitted - placed, now - emitted, data["seq"]))


def _watcher_process(client, url, auction_id, count, ready, done, queue) -> None:
    out: list = []
    asyncio.run(_watch(client, url, auction_id, count, ready, done, out))
    queue.put(out)


def _realtime_processes(stack: Stack) -> list[psutil.Process]:
    pids = stack.state_dir / "pids"
    return [psutil.Process(int((pids / f"bidding-{name}.pid").read_text()))
            for name in stack.ports if name.startswith("realtime")]


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    return sum(p.cpu_times().user + p.cpu_times().system for p in processes)


class _CpuPerDelivery:
    """The CPU of some processes while the bids stream, less their rate while idle with the
    same watchers connected (pings), in µs per delivery: ``mark()`` before and after the idle
    window, then before and after the bids."""

    def __init__(self, processes: list[psutil.Process]):
        self.processes, self.marks = processes, []

    def mark(self) -> None:
        self.marks.append((time.monotonic(), _cpu_seconds(self.processes)))

    def us_per(self, deliveries: int) -> float:
        (t0, c0), (t1, c1), (t2, c2), (t3, c3) = self.marks
        idle_rate = (c1 - c0) / (t1 - t0)
        return round(((c3 - c2) - idle_rate * (t3 - t2)) * 1e6 / max(deliveries, 1), 1)

    def idle_cores(self) -> float:
        (t0, c0), (t1, c1) = self.marks[:2]
        return round((c1 - c0) / (t1 - t0), 3)


def run(stack: Stack, api: Api, watchers: int, client: str) -> dict:
    """One scenario: ``watchers`` clients of kind ``client``, a stream of ``BIDS`` bids."""
    seller, ann, bob = api.register("seller"), api.register("ann"), api.register("bob")
    auction = seller.create_auction(seconds=3600, starting_price=100, anti_sniping_seconds=0)
    api.wait_until_biddable(auction["id"])
    queue: mp.Queue = mp.Queue()
    done = mp.Event()
    share = [watchers // PROCESSES + (i < watchers % PROCESSES) for i in range(PROCESSES)]
    readies, workers = [], []
    # Browsers come from many addresses, which the gateway's sticky hash spreads over the
    # realtime processes; all of ours share one address, so each worker process connects to
    # one instance directly instead.
    targets = stack.realtime_urls if REALTIME > 1 else [stack.url]
    for index, count in enumerate(share):
        ready = mp.Event()
        worker = mp.Process(target=_watcher_process,
                            args=(client, targets[index % len(targets)], auction["id"], count,
                                  ready, done, queue))
        worker.start()
        readies.append(ready)
        workers.append(worker)
    for ready in readies:
        if not ready.wait(300):
            raise RuntimeError("watchers did not connect in time")
    realtime = _CpuPerDelivery(_realtime_processes(stack))
    watching = _CpuPerDelivery([psutil.Process(worker.pid) for worker in workers])
    meters = (realtime, watching)
    for meter in meters:
        meter.mark()
    time.sleep(IDLE_SECONDS)
    for meter in meters:
        meter.mark()
    load_before = os.getloadavg()[0]
    for meter in meters:
        meter.mark()
    amount = 100
    # Our watchers are Python clients on the same two cores: give thousands of them time to
    # read each bid, so that the figures measure delivery, not a backlog in the watchers.
    interval = max(BID_INTERVAL, watchers / 2500)
    for i in range(BIDS):
        amount += 10_000
        answer = (ann if i % 2 else bob).bid(auction["id"], amount)
        assert answer.status_code == 201, answer.text
        time.sleep(interval)  # the pace of the bid stream, not a wait for a result
    time.sleep(2.0)
    for meter in meters:
        meter.mark()
    load_after = os.getloadavg()[0]
    done.set()
    samples = [sample for _ in workers for sample in queue.get(timeout=120)]
    for worker in workers:
        worker.join(timeout=60)
    total = [s[0] * 1000 for s in samples]
    pipeline = [s[1] * 1000 for s in samples]
    fan = [s[2] * 1000 for s in samples]
    by_bid: dict = {}
    for sample in samples:
        by_bid.setdefault(sample[3], []).append(sample[2] * 1000)

    def pct(values, fraction):
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 1)

    return {
        "watchers": watchers, "client": client, "bids": BIDS, "deliveries": len(samples),
        "expected_deliveries": watchers * BIDS,
        "p50_ms": round(statistics.median(total), 1), "p99_ms": pct(total, 0.99),
        "max_ms": round(max(total), 1),
        "pipeline_p50_ms": round(statistics.median(pipeline), 1),
        "pipeline_p99_ms": pct(pipeline, 0.99),
        "fanout_p50_ms": round(statistics.median(fan), 1), "fanout_p99_ms": pct(fan, 0.99),
        # Each bid's slowest delivery, in the order of the bids: one slow bid shows alone.
        "fanout_max_ms_by_bid": [round(max(by_bid[seq]), 1) for seq in sorted(by_bid)],
        "realtime_cpu_us_per_delivery": realtime.us_per(len(samples)),
        "realtime_idle_cpu_cores": realtime.idle_cores(),
        "watchers_cpu_us_per_delivery": watching.us_per(len(samples)),
        "load_average": [round(load_before, 2), round(load_after, 2)],
    }


def main() -> None:
    """Every scenario, printed and saved."""
    run_id = uuid.uuid4().hex[:8]
    state = ROOT / "var" / f"bench-{run_id}"
    admin = _local_postgres(state)
    stack = Stack(state, gateway_port=free_port(), admin_database_url=admin,
                  database=f"bench_{run_id}", vhost=f"bench_{run_id}", realtime_instances=REALTIME,
                  extra_env={"RATE_LIMIT_PER_IP": "100000/minute"})
    print("starting the local distributed shape ...", flush=True)
    stack.start()
    rows = []
    try:
        api = Api(stack.url)
        for watchers, client in [(w, c) for w in WATCHERS for c in CLIENTS]:
            row = run(stack, api, watchers, client)
            rows.append(row)
            print(f"{watchers:>5} watchers ({client}): commit->client p50 {row['p50_ms']} ms, p99 "
                  f"{row['p99_ms']} ms (pipeline p99 {row['pipeline_p99_ms']} ms, fan-out p99 "
                  f"{row['fanout_p99_ms']} ms); {row['deliveries']}/{row['expected_deliveries']}"
                  f" delivered; realtime CPU {row['realtime_cpu_us_per_delivery']} us per delivery"
                  f" (idle {row['realtime_idle_cpu_cores']} cores), watchers' "
                  f"{row['watchers_cpu_us_per_delivery']} us; load average "
                  f"{row['load_average']}", flush=True)
    finally:
        stack.stop()
        provision.drop_database(admin, stack.database)
        provision.delete_rabbitmq_vhost(stack.vhost)
    save(rows)


def save(rows: list[dict]) -> None:
    """bench/results/fanout.json and a markdown table."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"when": datetime.now(UTC).isoformat(), "bids_per_scenario": BIDS,
            "realtime_processes": REALTIME, "watcher_processes": PROCESSES,
            "bid_interval_s": BID_INTERVAL, "cpus": os.cpu_count(),
            "note": "watchers, load and servers share the machine"}
    (RESULTS / "fanout.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    lines = ["| watchers | client | delivered | p50 ms | p99 ms | pipeline p99 ms | fan-out p50 ms "
             "| fan-out p99 ms | realtime CPU µs per delivery | watchers' CPU µs per delivery "
             "| load average |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['watchers']} | {r['client']} | {r['deliveries']}/{r['expected_deliveries']}"
              f" | {r['p50_ms']} | {r['p99_ms']} | {r['pipeline_p99_ms']} | {r['fanout_p50_ms']}"
              f" | {r['fanout_p99_ms']} | {r['realtime_cpu_us_per_delivery']}"
              f" | {r['watchers_cpu_us_per_delivery']}"
              f" | {r['load_average'][0]}–{r['load_average'][1]} |" for r in rows]
    Path(RESULTS / "fanout.md").write_text(
        f"# Fan-out ({meta['when']}, {BIDS} bids per scenario, {REALTIME} Socket.IO "
        f"processes, {meta['cpus']} CPUs shared with the watchers)\n\n"
        "Latencies from the bid's placement (pipeline: to the Socket.IO process's emit; fan-out:"
        " from the emit to the watcher's receipt). Realtime CPU: the Socket.IO processes' CPU"
        f" during the bids less their rate over {IDLE_SECONDS:.0f} s idle with the same watchers,"
        " per delivery. The watchers run on the same cores: the lean client costs them little,"
        " python-socketio's `AsyncClient` several times what the server spends; their processes"
        " keep the collector off their thousands of connections, as a browser's holds one."
        " Each bid's slowest delivery is in the JSON (`fanout_max_ms_by_bid`).\n\n"
        + "\n".join(lines) + "\n")

if __name__ == "__main__":
    main()
