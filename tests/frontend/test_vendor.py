"""``python -m frontend.vendor`` puts the Socket.IO browser client in place from npm, checked."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess

import pytest

from frontend import vendor
from frontend.vendor import DEFAULT_LOCK, VendorError, check_integrity, read_lock


@pytest.fixture(scope="module")
def registry():
    """Downloads from the real npm registry, once per URL for the whole module."""
    cache: dict[str, bytes] = {}
    urls: list[str] = []

    def fetch(url: str) -> bytes:
        urls.append(url)
        if url not in cache:
            cache[url] = vendor.download(url)
        return cache[url]

    fetch.urls = urls
    return fetch


def _never(url: str) -> bytes:
    raise AssertionError(f"nothing should be downloaded, yet {url} was asked for")


def _locked_version(name: str) -> str:
    return next(p.version for p in read_lock(DEFAULT_LOCK) if p.name == name)


def test_the_fetcher_puts_the_locked_socket_io_client_in_place(tmp_path, registry):
    installed = vendor.vendor(DEFAULT_LOCK, tmp_path, fetch=registry, log=lambda line: None)

    script = tmp_path / "socket.io.min.js"
    assert script in installed
    version = _locked_version("socket.io-client")
    assert script.read_text().startswith(f"/*!\n * Socket.IO v{version}")
    assert (tmp_path / "socket.io.min.js.map").is_file()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["socket.io-client"]["files"]["socket.io.min.js"] == hashlib.sha256(
        script.read_bytes()).hexdigest()


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_fetched_client_is_a_working_io_function(tmp_path, registry):
    vendor.vendor(DEFAULT_LOCK, tmp_path, fetch=registry, log=lambda line: None)
    check = "const io = require(process.argv[1]); if (typeof io !== 'function') process.exit(1);"
    subprocess.run(["node", "-e", check, str(tmp_path / "socket.io.min.js")], check=True,
                   timeout=30)


def test_a_second_run_downloads_nothing_while_the_files_are_intact(tmp_path, registry):
    vendor.vendor(DEFAULT_LOCK, tmp_path, fetch=registry, log=lambda line: None)
    vendor.vendor(DEFAULT_LOCK, tmp_path, fetch=_never, log=lambda line: None)


def test_a_damaged_file_is_fetched_again(tmp_path, registry):
    vendor.vendor(DEFAULT_LOCK, tmp_path, fetch=registry, log=lambda line: None)
    script = tmp_path / "socket.io.min.js"
    good = script.read_bytes()
    script.write_text("alert('tampered')")
    asked = len(registry.urls)

    vendor.vendor(DEFAULT_LOCK, tmp_path, fetch=registry, log=lambda line: None)

    assert len(registry.urls) == asked + 1
    assert script.read_bytes() == good


def test_a_tarball_that_does_not_match_the_lock_is_refused(tmp_path, registry):
    lock = json.loads(DEFAULT_LOCK.read_text())
    entry = lock["packages"]["node_modules/socket.io-client"]
    entry["integrity"] = _sri("sha512", b"something else")
    tampered_lock = tmp_path / "package-lock.json"
    tampered_lock.write_text(json.dumps(lock))
    dest = tmp_path / "vendor"

    with pytest.raises(VendorError, match="integrity mismatch"):
        vendor.vendor(tampered_lock, dest, fetch=registry, log=lambda line: None)

    assert not (dest / "socket.io.min.js").exists()
    assert vendor.main(["--lock", str(tampered_lock), "--dest", str(dest)]) == 1


def _sri(algorithm: str, data: bytes) -> str:
    return f"{algorithm}-{base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


def test_integrity_needs_a_sha512_digest():
    with pytest.raises(VendorError, match="no sha512"):
        check_integrity(b"data", _sri("sha1", b"data"))
    check_integrity(b"data", _sri("sha512", b"data"))


def test_only_https_downloads_are_made():
    with pytest.raises(VendorError, match="non-https"):
        vendor.download("http://registry.npmjs.org/socket.io-client")
