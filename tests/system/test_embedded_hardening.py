"""``make run``'s one process (issue 12): no proxy is trusted, metrics are not served, the
session secret is the installation's own, and a large photo does not stall the process."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import uuid

import pytest
import requests
from PIL import Image

from tests.support.api import Api
from tests.support.waiting import wait_for
from tools import provision
from tools.services import ROOT
from tools.stack import free_port

pytestmark = pytest.mark.embedded


@pytest.fixture(scope="module")
def embedded(postgres_admin_url, tmp_path_factory):
    """``tools.embedded`` on this run's PostgreSQL server (a database of its own), with a
    small per-address limit to see whose address is counted."""
    var_dir = tmp_path_factory.mktemp("embedded-var")
    database, port = f"emb_{uuid.uuid4().hex[:8]}", free_port()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DATABASE_", "SECRET_KEY"))}
    env.update({"VAR_DIR": str(var_dir), "PORT": str(port), "PYTHONPATH": str(ROOT),
                "DATABASE_URL": postgres_admin_url, "DATABASE_NAME": database,
                "RATE_LIMIT_PER_IP": "3/minute"})
    log = open(var_dir / "embedded.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", "tools.embedded"], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)

    def healthy():
        assert process.poll() is None, (var_dir / "embedded.log").read_text()[-3000:]
        try:
            return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok
        except requests.RequestException:
            return False

    try:
        wait_for(healthy, timeout=120, interval=0.2, message="the embedded platform to start")
        yield {"url": f"http://127.0.0.1:{port}", "var_dir": var_dir}
    finally:
        process.terminate()
        process.wait(timeout=30)
        provision.drop_database(postgres_admin_url, database)


def test_the_process_answers_while_a_large_photo_is_decoded(embedded):
    api = Api(embedded["url"])
    seller = api.register("seller")
    auction = seller.create_auction()
    photo = io.BytesIO()
    Image.linear_gradient("L").resize((3900, 3900)).convert("RGB").save(photo, "PNG")
    answers = []

    def upload():
        answers.append(requests.post(
            f"{embedded['url']}/api/auctions/{auction['id']}/images", headers=seller.headers,
            files={"file": ("big.png", photo.getvalue(), "image/png")}, timeout=120))

    uploading = threading.Thread(target=upload)
    uploading.start()
    health_checks = 0
    while uploading.is_alive():
        assert requests.get(embedded["url"] + "/healthz", timeout=30).ok
        health_checks += 1
    uploading.join()
    assert answers[0].status_code == 201, answers[0].text
    assert health_checks >= 1


def test_a_forged_forwarded_address_changes_nothing(embedded):
    api = Api(embedded["url"])
    answers = [api.post("/api/auth/login", headers={"X-Forwarded-For": f"192.0.2.{n}"},
                        json={"email": f"x{n}@example.com", "password": "x"}).status_code
               for n in range(4)]
    # Four addresses, one limit of three: without a trusted proxy, all are this machine.
    assert 429 in answers, answers


def test_metrics_are_not_served_and_the_secret_is_the_installations_own(embedded):
    assert requests.get(embedded["url"] + "/metrics", timeout=10).status_code == 404
    secret = embedded["var_dir"] / "keys" / "frontend_secret"
    assert secret.exists() and oct(secret.stat().st_mode & 0o777) == "0o600"
    assert len(secret.read_text().strip()) >= 32
