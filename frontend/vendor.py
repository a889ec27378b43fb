"""Put the browser libraries in ``frontend/static/vendor/`` from npm, without Node.

``python -m frontend.vendor`` reads ``frontend/package-lock.json``; for each package there that
ships a browser build we use (see :data:`BROWSER_BUILDS`) it downloads the tarball from the
lock's ``resolved`` URL, refuses it unless it matches the lock's ``integrity`` (sha512), and
extracts the build files. A manifest next to them records what was installed, so a second run
downloads nothing while the files on disk are intact and the lock is unchanged.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

FRONTEND_DIR = Path(__file__).parent
DEFAULT_LOCK = FRONTEND_DIR / "package-lock.json"
DEFAULT_DEST = FRONTEND_DIR / "static" / "vendor"
MANIFEST_NAME = "manifest.json"
DEFAULT_REGISTRY = "https://registry.npmjs.org"

#: The files each package contributes to the page, as paths inside its npm tarball.
BROWSER_BUILDS: dict[str, tuple[str, ...]] = {
    "socket.io-client": ("dist/socket.io.min.js", "dist/socket.io.min.js.map"),
    # Swagger UI at /api/docs (frontend/api_docs.py): the bundle, its standalone layout (the
    # bar that switches between the services' documents) and its stylesheet.
    "swagger-ui-dist": ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
                        "swagger-ui.css"),
    # A development dependency: the browser tests run it on every page (never linked by one).
    "axe-core": ("axe.min.js",),
}

#: Reads a URL's bytes (tests substitute their own).
Download = Callable[[str], bytes]


class VendorError(Exception):
    """The lock file or a tarball is not what it should be; nothing was installed from it."""


@dataclass(frozen=True)
class LockedPackage:
    """A package of the lock file: where its tarball is and what its digest must be."""

    name: str
    version: str
    resolved: str
    integrity: str


def read_lock(lock_path: Path) -> list[LockedPackage]:
    """The top-level packages of ``package-lock.json`` (lockfileVersion 2 or 3)."""
    try:
        lock = json.loads(Path(lock_path).read_text())
    except (OSError, ValueError) as exc:
        raise VendorError(f"cannot read {lock_path}: {exc}") from None
    packages = []
    for key, entry in (lock.get("packages") or {}).items():
        prefix, _, name = key.partition("node_modules/")
        if prefix or not name or "/node_modules/" in name:
            continue
        version = entry.get("version")
        if not version or not entry.get("integrity"):
            raise VendorError(f"{name}: the lock gives no version or integrity")
        resolved = entry.get("resolved") or _registry_url(name, version)
        packages.append(LockedPackage(name, version, resolved, entry["integrity"]))
    return packages


def _registry_url(name: str, version: str) -> str:
    """The registry's tarball URL, for locks written with ``omit-lockfile-registry-resolved``."""
    return f"{DEFAULT_REGISTRY}/{name}/-/{name.split('/')[-1]}-{version}.tgz"


def check_integrity(data: bytes, integrity: str) -> None:
    """Raise :class:`VendorError` unless ``data`` matches a sha512 of the SRI string."""
    expected = [item.split("-", 1)[1].split("?")[0]
                for item in integrity.split() if item.startswith("sha512-")]
    if not expected:
        raise VendorError(f"integrity {integrity[:20]}... has no sha512 digest")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual not in expected:
        raise VendorError(f"integrity mismatch: expected sha512-{expected[0]}, got sha512-{actual}")


def download(url: str) -> bytes:
    """The bytes at an https URL (the registry), with a timeout."""
    if urlsplit(url).scheme != "https":
        raise VendorError(f"refusing to download over a non-https URL: {url}")
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def extract_files(tarball: bytes, paths: tuple[str, ...]) -> dict[str, bytes]:
    """The named files of an npm tarball (whose entries start with ``package/``), by base name.

    Names come from our table, never from the archive, so nothing can be written elsewhere.
    """
    wanted = {f"package/{path}": PurePosixPath(path).name for path in paths}
    found: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member in archive.getmembers():
            if member.name in wanted and member.isfile():
                handle = archive.extractfile(member)
                if handle is not None:
                    found[wanted[member.name]] = handle.read()
    return found


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _up_to_date(package: LockedPackage, recorded: dict | None, dest: Path) -> bool:
    """True when the manifest names this exact tarball and every file on disk is unchanged."""
    if not recorded or recorded.get("integrity") != package.integrity:
        return False
    files = recorded.get("files") or {}
    if not files:
        return False
    for name, digest in files.items():
        path = dest / name
        if not path.is_file() or _sha256(path.read_bytes()) != digest:
            return False
    return True


def vendor(lock_path: Path = DEFAULT_LOCK, dest: Path = DEFAULT_DEST,
           fetch: Download = download, log: Callable[[str], None] = print) -> list[Path]:
    """Install the browser builds of the lock's packages into ``dest``; the files in place."""
    dest = Path(dest)
    manifest_path = dest / MANIFEST_NAME
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        manifest = {}
    installed: list[Path] = []
    for package in read_lock(lock_path):
        paths = BROWSER_BUILDS.get(package.name)
        if not paths:
            continue
        recorded = manifest.get(package.name)
        if _up_to_date(package, recorded, dest):
            log(f"{package.name}@{package.version}: up to date")
            installed += [dest / name for name in recorded["files"]]
            continue
        log(f"{package.name}@{package.version}: downloading {package.resolved}")
        tarball = fetch(package.resolved)
        check_integrity(tarball, package.integrity)
        files = extract_files(tarball, paths)
        first = PurePosixPath(paths[0]).name
        if first not in files:
            raise VendorError(f"{package.name}@{package.version} has no {paths[0]}")
        dest.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            target = dest / name
            partial = target.with_name(target.name + ".part")
            partial.write_bytes(data)
            partial.replace(target)
            installed.append(target)
        manifest[package.name] = {
            "version": package.version,
            "integrity": package.integrity,
            "files": {name: _sha256(data) for name, data in files.items()},
        }
        manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        log(f"{package.name}@{package.version}: installed {', '.join(sorted(files))}")
    return installed


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m frontend.vendor [--lock PATH] [--dest DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m frontend.vendor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lock", type=Path, default=DEFAULT_LOCK, help="package-lock.json")
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="output directory")
    args = parser.parse_args(argv)
    try:
        vendor(args.lock, args.dest)
    except (VendorError, OSError) as exc:
        print(f"vendor: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
