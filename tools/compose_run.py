"""``python -m tools.compose_run up|down``: the real docker-compose.yml, up and healthy.

``up`` builds the images, starts every service in the order its ``depends_on`` conditions
ask for and returns once every long-running container is healthy (or running, where it has
no health check) and every one-shot has finished successfully; ``down`` removes the
containers and networks, and with ``--volumes`` the volumes too.

Two engines, the same compose file:

* **Docker** where a Docker engine answers and has the compose plugin: plain
  ``docker compose up -d --build --wait`` and ``docker compose down``.
* **podman** everywhere else (``COMPOSE_ENGINE=podman`` forces it): podman from Debian's
  packages, set up for a machine without systemd (``/etc/containers/containers.conf``),
  podman-compose (PyPI) to turn the file into podman containers, networks and volumes, and
  this module for what podman-compose cannot do with Debian's podman 4.3: start in the order
  of ``service_healthy`` and ``service_completed_successfully``, and run the health checks at
  all (``tools/compose_health.py``).

With either engine, a base image that is missing and cannot be pulled (no registry) is
replaced by a stand-in built from Debian's packages under exactly its name
(``tools/standins``); the compose file is not changed for any of this.

Used by ``make compose-up``/``make compose-down`` and by ``tests/deploy/test_compose_up.py``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import provision, standins
from .compose_health import PROJECT_LABEL, container_healthcheck, health_status

log = logging.getLogger("compose_run")

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
STATE_DIR = ROOT / "var" / "compose"
SERVICE_LABEL = "com.docker.compose.service"

#: Debian packages podman needs here: iptables for netavark's rules, runc because crun 1.8
#: refuses hybrid cgroup hierarchies, catatonit for ``init: true``, mmdebstrap for stand-ins.
PODMAN_PACKAGES = ("podman", "iptables", "runc", "catatonit", "netavark", "aardvark-dns",
                   "mmdebstrap")
CONTAINERS_CONF = Path("/etc/containers/containers.conf")
CONTAINERS_CONF_MARK = "# written by tools/compose_run.py"
# Without systemd: cgroupfs and a file for events. default_ulimits: podman's default raises
# the hard nofile limit past what a sandbox may grant, and then no container starts.
CONTAINERS_CONF_TEXT = f"""{CONTAINERS_CONF_MARK} (podman on a machine without systemd)
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
init_path = "/usr/bin/catatonit"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
"""


@dataclass
class Container:
    """One container of the project as the engine reports it."""

    id: str
    name: str
    service: str
    status: str  # created, running, exited, ...
    exit_code: int
    health: str  # healthy, unhealthy, starting, "" (no health check)
    pid: int
    image_id: str = ""

    @property
    def ready(self) -> bool:
        """Running and healthy (or running without a check)."""
        return self.status == "running" and self.health in ("healthy", "")


class ComposeError(RuntimeError):
    """The stack did not come up (the message says which service and why)."""


class Compose:
    """A compose project run by one engine. ``env`` adds to the environment the file reads."""

    engine = ""

    def __init__(self, project: str | None = None, env: dict[str, str] | None = None,
                 compose_file: Path = COMPOSE_FILE):
        self.compose_file = Path(compose_file)
        self.env = {**os.environ, **(env or {})}
        self.project = project or yaml.safe_load(self.compose_file.read_text()).get(
            "name", self.compose_file.parent.name)

    # ---- to be provided by an engine

    def compose_command(self) -> list[str]:
        """The compose CLI, with file and project."""
        raise NotImplementedError

    def containers(self) -> list[Container]:
        """Every container of the project."""
        raise NotImplementedError

    def up(self, timeout: float = 900, build: bool = True) -> None:
        """Build (unless ``build`` is false and the images exist), start in order, wait
        until healthy."""
        raise NotImplementedError

    # ---- shared

    def run(self, *args: str, check: bool = True, capture: bool = False,
            timeout: float | None = None) -> subprocess.CompletedProcess:
        """The compose CLI with ``args``; with ``capture``, its output is returned (and
        shown only in the error when it fails)."""
        done = subprocess.run([*self.compose_command(), *args], env=self.env, text=True,
                              capture_output=capture, timeout=timeout)
        if check and done.returncode != 0:
            raise ComposeError(f"{' '.join(args)} failed ({done.returncode}):\n"
                               f"{done.stdout or ''}{done.stderr or ''}")
        return done

    def config(self) -> dict:
        """The compose file as the engine reads it (variables set, dependencies normalised)."""
        return yaml.safe_load(self.run("config", capture=True).stdout)

    def down(self, volumes: bool = False) -> None:
        """Remove the containers and networks (and the named volumes with ``volumes``)."""
        # Captured: podman says, for every container, that systemd was not there to remove
        # its health check timer.
        self.run("down", *(["-v"] if volumes else []), "-t", "10", capture=True)

    def logs(self, service: str, tail: int = 60) -> str:
        """The last lines a service's containers printed."""
        done = self.run("logs", "--tail", str(tail), service, check=False, capture=True)
        return done.stdout + done.stderr

    def container(self, service: str) -> Container:
        """The (first) container of ``service``."""
        for found in self.containers():
            if found.service == service:
                return found
        raise ComposeError(f"no container for service {service}")

    def wait_ready(self, services: dict[str, dict], timeout: float) -> None:
        """Until every long-running service is ready and every one-shot finished with 0."""
        deadline = time.monotonic() + timeout
        while True:
            by_service = {c.service: c for c in self.containers()}
            waiting = []
            for name, spec in services.items():
                found = by_service.get(name)
                if found is None:
                    waiting.append(f"{name} (no container)")
                elif is_one_shot(spec):
                    if found.status == "exited" and found.exit_code != 0:
                        raise ComposeError(f"{name} exited with {found.exit_code}:\n"
                                           f"{self.logs(name)}")
                    if found.status != "exited":
                        waiting.append(f"{name} ({found.status})")
                elif not found.ready:
                    waiting.append(f"{name} ({found.status} {found.health})".strip())
            if not waiting:
                return
            if time.monotonic() > deadline:
                details = "\n".join(f"--- {name}\n{self.logs(name.split()[0], 20)}"
                                    for name in waiting)
                raise ComposeError(f"not ready after {timeout:.0f} s: {', '.join(waiting)}\n"
                                   f"{details}")
            time.sleep(1)


def is_one_shot(spec: dict) -> bool:
    """A service without a restart policy or health check that others wait to finish:
    in this file the key generator and the migrations."""
    return not spec.get("restart") and not spec.get("healthcheck")


# ---------------------------------------------------------------------------------------------
# Docker


class DockerCompose(Compose):
    """``docker compose`` against a Docker engine."""

    engine = "docker"

    def compose_command(self) -> list[str]:
        return ["docker", "compose", "-f", str(self.compose_file), "-p", self.project]

    def up(self, timeout: float = 900, build: bool = True) -> None:
        ensure_base_images("docker", self.config())
        self.run("up", "-d", *(["--build"] if build else []), "--wait",
                 "--wait-timeout", str(int(timeout)))

    def containers(self) -> list[Container]:
        ids = subprocess.run(["docker", "ps", "-a", "-q", "--filter",
                              f"label=com.docker.compose.project={self.project}"],
                             capture_output=True, text=True, check=True).stdout.split()
        if not ids:
            return []
        inspected = json.loads(subprocess.run(["docker", "inspect", *ids], capture_output=True,
                                              text=True, check=True).stdout)
        return [_container(item) for item in inspected]


def docker_answers() -> bool:
    """True when a Docker engine answers and the compose plugin is installed."""
    if not shutil.which("docker"):
        return False
    try:
        engine = subprocess.run(["docker", "info"], capture_output=True, timeout=20)
        plugin = subprocess.run(["docker", "compose", "version"], capture_output=True,
                                timeout=20)
    except subprocess.TimeoutExpired:
        return False
    return engine.returncode == 0 and plugin.returncode == 0


# ---------------------------------------------------------------------------------------------
# podman


class PodmanCompose(Compose):
    """podman-compose for the translation, this class for start order and health."""

    engine = "podman"

    def compose_command(self) -> list[str]:
        podman_compose = Path(sys.executable).with_name("podman-compose")
        runner = [str(podman_compose)] if podman_compose.exists() else ["podman-compose"]
        # No pod around the containers: on Docker there is none either.
        return [*runner, "--in-pod", "false", "-f", str(self.compose_file), "-p", self.project]

    def containers(self) -> list[Container]:
        ids = subprocess.run(["podman", "ps", "-a", "-q", "--filter",
                              f"label={PROJECT_LABEL}={self.project}"],
                             capture_output=True, text=True, check=True).stdout.split()
        if not ids:
            return []
        done = subprocess.run(["podman", "inspect", *ids], capture_output=True, text=True)
        if done.returncode != 0:  # one went away between the calls: ask again
            time.sleep(0.5)
            return self.containers()
        return [_container(item) for item in json.loads(done.stdout)]

    def up(self, timeout: float = 900, build: bool = True) -> None:
        provision_podman()
        config = self.config()
        services = config["services"]
        ensure_base_images("podman", config)
        started = time.monotonic()
        for image, command in build_commands(config).items():
            if build or subprocess.run(["podman", "image", "exists", image]).returncode:
                subprocess.run(command, check=True, env=self.env)
        # The images these builds replaced, no longer tagged (cached layers stay).
        subprocess.run(["podman", "image", "prune", "-f"], stdout=subprocess.DEVNULL)
        log.info("images ready in %.0f s", time.monotonic() - started)
        # Creates the network, volumes and containers and starts nothing. --no-deps: without
        # it each container "requires" its dependencies, and podman would start those again
        # (a finished migration, too) whenever it starts the container.
        stale = self.services_on_old_images(services)
        if stale:  # as docker compose does when an image changed under a container
            self.run("up", "--no-start", "--no-deps", "--force-recreate", *stale, capture=True)
        self.run("up", "--no-start", "--no-deps", capture=True)
        start_health_driver(self.project)
        self.start_in_order(services, timeout)
        self.wait_ready(services, timeout)

    def down(self, volumes: bool = False) -> None:
        super().down(volumes)
        stop_health_driver(self.project)

    def services_on_old_images(self, services: dict[str, dict]) -> list[str]:
        """Services whose existing container runs another image than their image name now
        names (an earlier ``up`` before the code changed)."""
        stale = []
        for container in self.containers():
            spec = services.get(container.service)
            if spec is None:
                continue
            current = subprocess.run(["podman", "image", "inspect", "--format", "{{.Id}}",
                                      spec["image"]], capture_output=True, text=True)
            if current.returncode == 0 and current.stdout.strip() != container.image_id:
                stale.append(container.service)
        return sorted(set(stale))

    def start_in_order(self, services: dict[str, dict], timeout: float) -> None:
        """``podman start`` each service once its ``depends_on`` conditions hold."""
        deadline = time.monotonic() + timeout
        pending = dict(services)
        while pending:
            by_service = {c.service: c for c in self.containers()}
            for name, spec in sorted(pending.items()):
                if all(self._condition_holds(dep, rule.get("condition", "service_started"),
                                             by_service, name)
                       for dep, rule in dependencies(spec).items()):
                    found = by_service.get(name)
                    if found is None:
                        raise ComposeError(f"podman-compose created no container for {name}")
                    if found.status != "running":
                        self._start(found)
                    del pending[name]
            if pending and time.monotonic() > deadline:
                raise ComposeError(f"still waiting to start {', '.join(pending)}")
            time.sleep(1)

    def _start(self, container: Container) -> None:
        # podman complains on stderr that it cannot reach systemd to schedule the health
        # checks; tools/compose_health.py runs them instead, so that is said only on failure.
        done = subprocess.run(["podman", "start", container.id], capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise ComposeError(f"podman start {container.service}: {done.stderr}")

    def _condition_holds(self, dep: str, condition: str, by_service: dict[str, Container],
                         dependent: str) -> bool:
        found = by_service.get(dep)
        if found is None:
            return False
        if condition == "service_completed_successfully":
            if found.status == "exited" and found.exit_code != 0:
                raise ComposeError(f"{dependent} needs {dep}, which exited with "
                                   f"{found.exit_code}:\n{self.logs(dep)}")
            return found.status == "exited" and found.exit_code == 0
        if condition == "service_healthy":
            return found.status == "running" and found.health == "healthy"
        return found.status == "running"


def provision_podman() -> None:
    """Debian's podman and what it needs here, configured for a machine without systemd."""
    missing = [package for package in PODMAN_PACKAGES if not _installed(package)]
    if missing:
        log.info("installing %s from Debian's packages", " ".join(missing))
        provision.apt_install(*missing)
    current = CONTAINERS_CONF.read_text() if CONTAINERS_CONF.exists() else ""
    if current != CONTAINERS_CONF_TEXT:
        if current.strip() and CONTAINERS_CONF_MARK not in current:
            raise ComposeError(f"{CONTAINERS_CONF} exists and was not written by this tool; "
                               f"it needs:\n{CONTAINERS_CONF_TEXT}")
        CONTAINERS_CONF.parent.mkdir(parents=True, exist_ok=True)
        CONTAINERS_CONF.write_text(CONTAINERS_CONF_TEXT)


def _installed(package: str) -> bool:
    done = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package],
                          capture_output=True, text=True)
    return done.stdout.endswith("installed")


def podman_answers() -> bool:
    """True when podman is installed and runs."""
    return bool(shutil.which("podman")) and subprocess.run(
        ["podman", "info"], capture_output=True).returncode == 0


def base_images(config: dict) -> list[str]:
    """Images the project pulls: those of services without a build, and the bases of the
    Dockerfiles it builds (``FROM`` lines that are not earlier stages)."""
    images: list[str] = []
    for spec in config["services"].values():
        build = spec.get("build")
        if not build:
            images.append(spec["image"])
            continue
        if isinstance(build, str):
            build = {"context": build}
        dockerfile = Path(build["context"]) / build.get("dockerfile", "Dockerfile")
        images.extend(dockerfile_bases(dockerfile.read_text()))
    return list(dict.fromkeys(images))


def build_commands(config: dict) -> dict[str, list[str]]:
    """One ``podman build`` per distinct image the project builds (by image name), to run
    one at a time.

    (podman-compose builds every service at once, the same image once per service using it:
    sixteen concurrent pip installs on a small machine.)"""
    commands: dict[str, list[str]] = {}
    for spec in config["services"].values():
        build = spec.get("build")
        if not build:
            continue
        if isinstance(build, str):
            build = {"context": build}
        command = ["podman", "build", "-f",
                   str(Path(build["context"]) / build.get("dockerfile", "Dockerfile")),
                   "-t", spec["image"]]
        if build.get("target"):
            command += ["--target", build["target"]]
        args = build.get("args") or {}
        if isinstance(args, list):
            args = dict(item.split("=", 1) for item in args)
        for key, value in sorted(args.items()):
            command += ["--build-arg", f"{key}={value}"]
        commands.setdefault(spec["image"], [*command, str(build["context"])])
    return commands


def dockerfile_bases(text: str) -> list[str]:
    """The external images a Dockerfile starts its stages from."""
    stages: set[str] = set()
    bases = []
    for match in re.finditer(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", text,
                             re.IGNORECASE | re.MULTILINE):
        image, stage = match.group(1), match.group(2)
        if image.lower() not in stages:
            bases.append(image)
        if stage:
            stages.add(stage.lower())
    return bases


def ensure_base_images(cli: str, config: dict) -> None:
    """Every base image of the project present: pulled, or a stand-in where it cannot be."""
    # Stand-ins build side by side: each is mostly waiting on downloads and dpkg.
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda image: ensure_base_image(cli, image), base_images(config)))


def ensure_base_image(cli: str, image: str) -> None:
    """Present already, or pulled, or (only when it cannot be pulled) a stand-in.
    ``cli`` is ``podman`` or ``docker``: both import a root file system the same way."""
    name = standins.qualified(image)
    present = subprocess.run([cli, "image", "inspect", name], capture_output=True).returncode == 0
    standin_label = standins.image_recipe_label(cli, name) if present else None
    if present and not standin_label:
        return  # the real image
    recipe = standins.recipe_for(image)
    if present and recipe and standin_label == recipe.digest():
        return  # this machine could not pull it before, and the stand-in is current
    log.info("pulling %s", name)
    try:
        pulled = subprocess.run([cli, "pull", "-q", name], capture_output=True,
                                text=True, timeout=300)
        if pulled.returncode == 0:
            return
        reason = (pulled.stderr.strip().splitlines() or ["?"])[-1]
    except subprocess.TimeoutExpired:
        reason = "timed out"
    log.info("cannot pull %s (%s): using a stand-in built from Debian's packages", name,
             reason)
    standins.ensure_standin(cli, name)


def _health_pid_file(project: str) -> Path:
    return STATE_DIR / f"{project}.health.pid"


def start_health_driver(project: str) -> None:
    """The background health-check driver of ``project``, unless one runs already."""
    pid_file = _health_pid_file(project)
    if pid_file.exists() and _alive(int(pid_file.read_text())):
        return
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with (STATE_DIR / f"{project}.health.log").open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "tools.compose_health", project], cwd=ROOT,
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
            start_new_session=True)
    pid_file.write_text(str(process.pid))


def stop_health_driver(project: str) -> None:
    """Stop the driver started by :func:`start_health_driver`."""
    pid_file = _health_pid_file(project)
    if pid_file.exists():
        pid = int(pid_file.read_text())
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
        pid_file.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    return not cmdline.exists() or b"tools.compose_health" in cmdline.read_bytes()


# ---------------------------------------------------------------------------------------------


def _container(item: dict) -> Container:
    state = item.get("State", {})
    labels = item.get("Config", {}).get("Labels") or {}
    return Container(
        id=item["Id"], name=item.get("Name", "").lstrip("/"),
        service=labels.get(SERVICE_LABEL, ""), status=state.get("Status", ""),
        exit_code=int(state.get("ExitCode") or 0),
        health=health_status(item) if container_healthcheck(item) else "",
        pid=int(state.get("Pid") or 0), image_id=item.get("Image", ""))


def dependencies(spec: dict) -> dict[str, dict]:
    """``depends_on`` as ``{service: {"condition": ...}}`` (a list means service_started)."""
    depends = spec.get("depends_on") or {}
    if isinstance(depends, list):
        return {name: {"condition": "service_started"} for name in depends}
    return depends


def choose(project: str | None = None, env: dict[str, str] | None = None,
           compose_file: Path = COMPOSE_FILE) -> Compose:
    """Docker where an engine answers (unless ``COMPOSE_ENGINE=podman``), else podman."""
    wanted = (env or {}).get("COMPOSE_ENGINE") or os.environ.get("COMPOSE_ENGINE", "")
    if wanted == "docker" or (not wanted and docker_answers()):
        return DockerCompose(project, env, compose_file)
    return PodmanCompose(project, env, compose_file)


def main(argv: list[str] | None = None) -> None:
    """The command line of ``make compose-up`` / ``make compose-down``."""
    parser = argparse.ArgumentParser(prog="python -m tools.compose_run")
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--project", help="compose project name (default: the file's name)")
    parser.add_argument("--volumes", action="store_true",
                        help="down: remove the named volumes too (the data)")
    parser.add_argument("--timeout", type=float, default=900,
                        help="up: seconds to wait for every service to be healthy")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="compose: %(message)s")
    compose = choose(args.project)
    started = time.monotonic()
    try:
        if args.action == "up":
            compose.up(args.timeout)
            port = os.environ.get("GATEWAY_PORT", "8080")
            log.info("up with %s in %.0f s: every service healthy; http://localhost:%s",
                     compose.engine, time.monotonic() - started, port)
        else:
            compose.down(volumes=args.volumes)
    except (ComposeError, subprocess.CalledProcessError) as error:
        sys.exit(f"compose: {error}")


if __name__ == "__main__":
    main()
