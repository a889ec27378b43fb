"""Stand-in base images built from Debian's packages, for machines that cannot pull the real ones.

Where no registry of images is reachable, ``tools.compose_run`` asks this module for each
image the compose file (or a Dockerfile it builds) names and that is neither present nor
pullable. A stand-in is a Debian root file system made by ``mmdebstrap --variant=minbase``
with the packages that do the image's job, plus a small entrypoint doing what the real image's
entrypoint does for the compose file (initialise PostgreSQL and run its init scripts, render
nginx templates, ...), imported with ``podman import`` under exactly the image's name.

A recipe is keyed by the image's repository (``postgres``), not its tag, so a changed tag
in the compose file still finds its stand-in. Each built root file system is cached under
``$STANDIN_CACHE`` (default ``/var/cache/auction-platform/standins``) by a hash of everything
that goes into it: a second run on the same machine only imports it, or finds the image
already there with that hash in its label and does nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SUITE = "bookworm"
MIRRORS = (
    f"deb http://deb.debian.org/debian {SUITE} main",
    f"deb http://deb.debian.org/debian {SUITE}-updates main",
    f"deb http://deb.debian.org/debian-security {SUITE}-security main",
)
#: Certificates this machine trusts beyond Debian's (e.g. a proxy that intercepts TLS):
#: copied into every stand-in so that pip and the npm download inside image builds work.
LOCAL_CA_DIR = Path("/usr/local/share/ca-certificates")
RECIPE_LABEL = "org.auction-platform.standin-recipe"
CACHE_DIR = Path(os.environ.get("STANDIN_CACHE", "/var/cache/auction-platform/standins"))


@dataclass(frozen=True)
class Recipe:
    """What a stand-in is made of: Debian packages, files, commands run in it, image config."""

    packages: tuple[str, ...]
    #: (file under tools/standins/, absolute path in the image), copied in executable.
    files: tuple[tuple[str, str], ...] = ()
    #: Shell commands run inside the new root file system, in order.
    setup: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    user: str = ""
    workdir: str = ""
    #: What the real image is and which Debian package stands in for it (for the README).
    note: str = ""

    def digest(self) -> str:
        """A hash of everything that goes into the image: recipe, files, mirrors, CAs."""
        h = hashlib.sha256()
        h.update(json.dumps([self.packages, self.files, self.setup, sorted(self.env.items()),
                             self.entrypoint, self.cmd, self.user, self.workdir, MIRRORS],
                            sort_keys=True).encode())
        for source, _ in self.files:
            h.update((HERE / source).read_bytes())
        for cert in local_certificates():
            h.update(cert.name.encode() + cert.read_bytes())
        return h.hexdigest()[:16]


BASE_ENV = {"LANG": "C.UTF-8",
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

RECIPES: dict[str, Recipe] = {
    # python:3.11-slim: Debian's python3 is 3.11. pip as root installs into /usr/local, as in
    # the real image, once Debian's "externally managed" marker is gone.
    "python": Recipe(
        packages=("python3", "python3-pip", "python-is-python3", "ca-certificates"),
        setup=("rm -f /usr/lib/python3.*/EXTERNALLY-MANAGED",),
        env=BASE_ENV,
        cmd=("python3",),
        note="Debian's python3 3.11 with pip",
    ),
    "postgres": Recipe(
        packages=("postgresql-15", "ca-certificates"),
        files=(("postgres-entrypoint.sh", "/usr/local/bin/docker-entrypoint.sh"),),
        # The package makes a cluster of its own; the entrypoint makes the one the image makes.
        setup=("rm -rf /etc/postgresql/15/main /var/lib/postgresql/15",
               "mkdir -p /docker-entrypoint-initdb.d /var/lib/postgresql/data"),
        env={**BASE_ENV, "PATH": "/usr/lib/postgresql/15/bin:" + BASE_ENV["PATH"],
             "PGDATA": "/var/lib/postgresql/data"},
        entrypoint=("docker-entrypoint.sh",),
        cmd=("postgres",),
        note="Debian's postgresql-15 (the compose file names 16)",
    ),
    "rabbitmq": Recipe(
        packages=("rabbitmq-server", "ca-certificates"),
        files=(("rabbitmq-entrypoint.sh", "/usr/local/bin/docker-entrypoint.sh"),),
        setup=("rabbitmq-plugins enable --offline rabbitmq_management",
               "chown rabbitmq:rabbitmq /etc/rabbitmq/enabled_plugins"),
        env=BASE_ENV,
        entrypoint=("docker-entrypoint.sh",),
        cmd=("rabbitmq-server",),
        note="Debian's rabbitmq-server with the management plugin",
    ),
    "redis": Recipe(
        packages=("redis-server",),
        files=(("redis-entrypoint.sh", "/usr/local/bin/docker-entrypoint.sh"),),
        setup=("mkdir -p /data", "chown redis:redis /data"),
        env=BASE_ENV,
        entrypoint=("docker-entrypoint.sh",),
        cmd=("redis-server",),
        workdir="/data",
        note="Debian's redis-server",
    ),
    "nginx": Recipe(
        packages=("nginx", "gettext-base", "wget", "ca-certificates"),
        files=(("nginx-entrypoint.sh", "/docker-entrypoint.sh"),),
        setup=("rm -f /etc/nginx/sites-enabled/default",
               "mkdir -p /etc/nginx/templates /etc/nginx/conf.d",
               "ln -sf /dev/stdout /var/log/nginx/access.log",
               "ln -sf /dev/stderr /var/log/nginx/error.log"),
        env=BASE_ENV,
        entrypoint=("/docker-entrypoint.sh",),
        cmd=("nginx", "-g", "daemon off;"),
        note="Debian's nginx",
    ),
    # Mailpit: SMTP plus the read side of its HTTP API (tools/standins/mailpit.py).
    "axllent/mailpit": Recipe(
        packages=("python3", "python3-aiosmtpd"),
        files=(("mailpit.py", "/mailpit"),),
        env=BASE_ENV,
        entrypoint=("/mailpit",),
        note="tools/standins/mailpit.py on Debian's python3-aiosmtpd (SMTP and Mailpit's "
             "message API)",
    ),
}


def repository(image: str) -> str:
    """``postgres`` of ``postgres:16-alpine`` or ``docker.io/library/postgres:16``."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def qualified(image: str) -> str:
    """The name a Docker engine gives ``image``: ``docker.io/library/postgres:16-alpine``."""
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        return image
    if "/" not in image:
        return f"docker.io/library/{image}"
    return f"docker.io/{image}"


def recipe_for(image: str) -> Recipe | None:
    """The stand-in recipe for ``image``, if there is one."""
    return RECIPES.get(repository(image))


def local_certificates() -> list[Path]:
    """The machine's own CA certificates (``/usr/local/share/ca-certificates/*.crt``)."""
    if not LOCAL_CA_DIR.is_dir():
        return []
    return sorted(LOCAL_CA_DIR.glob("*.crt"))


def image_recipe_label(podman: str, image: str) -> str | None:
    """The recipe hash a present image was built from; None when absent or not a stand-in."""
    done = subprocess.run([podman, "image", "inspect", "--format",
                           f'{{{{ index .Config.Labels "{RECIPE_LABEL}" }}}}', image],
                          capture_output=True, text=True)
    if done.returncode != 0:
        return None
    return done.stdout.strip()


def ensure_standin(podman: str, image: str) -> None:
    """Build (or import from the cache) the stand-in for ``image``, tagged ``image``."""
    recipe = recipe_for(image)
    if recipe is None:
        raise RuntimeError(f"{image} cannot be pulled and there is no stand-in recipe for it "
                           f"in tools/standins")
    digest = recipe.digest()
    if image_recipe_label(podman, image) == digest:
        return
    rootfs = cached_rootfs(repository(image), recipe, digest)
    changes = [f"LABEL {RECIPE_LABEL}={digest}"]
    changes += [f"ENV {key}={value}" for key, value in recipe.env.items()]
    if recipe.entrypoint:
        changes.append(f"ENTRYPOINT {json.dumps(list(recipe.entrypoint))}")
    if recipe.cmd:
        changes.append(f"CMD {json.dumps(list(recipe.cmd))}")
    if recipe.user:
        changes.append(f"USER {recipe.user}")
    if recipe.workdir:
        changes.append(f"WORKDIR {recipe.workdir}")
    command = [podman, "import"]
    for change in changes:
        command += ["--change", change]
    done = subprocess.run([*command, str(rootfs), qualified(image)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise RuntimeError(f"podman import of the {image} stand-in failed: {done.stderr}")
    log.info("stand-in %s imported (recipe %s)", image, digest)


def cached_rootfs(name: str, recipe: Recipe, digest: str) -> Path:
    """The root file system tarball of ``recipe``, built by mmdebstrap unless cached."""
    cache = CACHE_DIR if _writable(CACHE_DIR) else Path.home() / ".cache" / "auction-standins"
    cache.mkdir(parents=True, exist_ok=True)
    slug = name.replace("/", "-")
    target = cache / f"{slug}-{digest}.tar"
    if target.exists():
        return target
    for stale in cache.glob(f"{slug}-*.tar"):
        stale.unlink()
    with tempfile.TemporaryDirectory(prefix=f"standin-{slug}-") as work:
        work_dir = Path(work)
        hooks = []
        certs = local_certificates()
        if certs:
            hooks.append(f'mkdir -p "$1"{LOCAL_CA_DIR}')
            for cert in certs:
                hooks.append(f'cp {shlex.quote(str(cert))} '
                             f'"$1"{shlex.quote(str(LOCAL_CA_DIR / cert.name))}')
            hooks.append('chroot "$1" update-ca-certificates >/dev/null 2>&1 || true')
        for source, destination in recipe.files:
            staged = work_dir / Path(source).name
            shutil.copyfile(HERE / source, staged)
            hooks.append(f'install -D -m 0755 {staged} "$1"{shlex.quote(destination)}')
        for command in recipe.setup:
            hooks.append(f"chroot \"$1\" sh -c '{command}'")
        partial = work_dir / "rootfs.tar"
        command = ["mmdebstrap", "--variant=minbase", "--quiet",
                   "--include=" + ",".join(recipe.packages),
                   "--dpkgopt=path-exclude=/usr/share/doc/*",
                   "--dpkgopt=path-exclude=/usr/share/man/*",
                   "--dpkgopt=path-exclude=/usr/share/locale/*",
                   *[f"--customize-hook={hook}" for hook in hooks],
                   SUITE, str(partial), *MIRRORS]
        log.info("building stand-in %s from Debian packages (mmdebstrap)", name)
        subprocess.run(command, check=True)
        shutil.move(partial, target)
    return target


def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK)
