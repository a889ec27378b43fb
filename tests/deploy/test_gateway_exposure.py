"""What the gateway exposes (issue 12): the mail sink only to this machine in ``make up`` and
not at all in compose or Kubernetes; metrics never; ``nosniff`` on every answer."""

from __future__ import annotations

import re

import pytest
import yaml

from mailsink.store import Mailbox
from tests.support.deploy import ROOT, render_gateway_template
from tools.stack import dev_routes


def directives(rendered: str) -> str:
    return re.sub(r"#.*", "", rendered)


def compose_gateway_env() -> dict[str, str]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return {k: str(v) for k, v in compose["services"]["gateway"]["environment"].items()}


def k8s_gateway_env() -> dict[str, str]:
    docs = yaml.safe_load_all((ROOT / "deploy" / "k8s" / "gateway.yaml").read_text())
    [deployment] = [d for d in docs if d and d["kind"] == "Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return {item["name"]: item["value"] for item in container["env"]}


@pytest.mark.parametrize("env", [compose_gateway_env(), k8s_gateway_env()],
                         ids=["compose", "kubernetes"])
def test_compose_and_kubernetes_route_no_mail_sink_and_no_metrics(env):
    rendered = directives(render_gateway_template(env))
    assert "mailbox" not in rendered
    assert "location = /metrics { return 404; }" in rendered
    assert "location ~ ^/api/[a-z]+/metrics$ { return 404; }" in rendered
    assert "add_header X-Content-Type-Options nosniff always;" in rendered


@pytest.mark.parametrize("env", [compose_gateway_env(), k8s_gateway_env()],
                         ids=["compose", "kubernetes"])
def test_every_gateway_sends_the_api_docs_to_the_frontend(env):
    rendered = directives(render_gateway_template(env))
    assert "location = /api/docs { proxy_pass http://frontend; }" in rendered
    assert "location /api/docs/ { proxy_pass http://frontend; }" in rendered


def test_make_ups_gateway_answers_the_mail_sink_to_this_machine_only():
    routes = dev_routes("127.0.0.1:5000")
    for location in ("location /api/mailbox {", "location = /mailbox {"):
        block = routes[routes.index(location):].split("}", 1)[0]
        assert "allow 127.0.0.1; allow ::1; deny all;" in block
        assert "proxy_pass http://127.0.0.1:5000;" in block


@pytest.fixture
def sink(tmp_path):
    from flask import Flask

    from auction_common.errors import register_error_handlers
    from mailsink.web import mailbox_blueprint

    app = Flask("mailsink-test")
    register_error_handlers(app)
    app.register_blueprint(mailbox_blueprint(Mailbox(tmp_path / "mailbox.jsonl")))
    return app


@pytest.mark.parametrize("method, path", [("GET", "/mailbox"), ("GET", "/api/mailbox"),
                                          ("DELETE", "/api/mailbox")])
def test_the_mail_sink_answers_loopback_clients_only(sink, method, path):
    outsider = sink.test_client()
    outsider.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    refused = outsider.open(path, method=method)
    assert refused.status_code == 404
    assert refused.get_json()["error"]["code"] == "not_found"
    local = sink.test_client()
    local.environ_base["REMOTE_ADDR"] = "127.0.0.1"
    assert local.open(path, method=method).status_code in (200, 204)
