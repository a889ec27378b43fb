"""The Kubernetes shape (deploy/k8s), checked without a cluster.

The kustomization is built (by kubectl when it is installed, and always by reading the files it
lists), every object is validated against the Kubernetes API schemas, and the checks are the
mistakes a cluster would only show at run time: a process missing or running another command
than in compose, a Service selecting no pod, a probe on a port the pod does not open, a secret
key nobody documents, a setting no service reads, a gateway that nginx rejects.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import kubernetes_validate
import pytest
import yaml

from tests.support.deploy import (
    DOCKERFILE,
    ROOT,
    dockerfile_stages,
    find_nginx,
    gateway_template_directives,
    nginx_test,
    nginx_version,
    render_gateway_template,
    stage_chain,
)

K8S = ROOT / "deploy" / "k8s"
COMPOSE_FILE = ROOT / "docker-compose.yml"
#: The oldest Kubernetes the manifests promise to work with, and the newest schemas known.
KUBERNETES_VERSIONS = ["1.29.0", kubernetes_validate.utils.latest_version()]
#: Each package's own DATABASE_URL in the auction-secrets Secret.
DATABASE_URL_KEYS = {
    "user_service": "USERS_DATABASE_URL",
    "auction_service": "AUCTIONS_DATABASE_URL",
    "bidding_service": "BIDDING_DATABASE_URL",
    "notification_service": "NOTIFICATIONS_DATABASE_URL",
}


# ---- building the kustomization --------------------------------------------------------------


@pytest.fixture(scope="module")
def kustomization() -> dict:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


@pytest.fixture(scope="module")
def objects(kustomization) -> list[dict]:
    """The objects ``kubectl apply -k`` would send: the listed files, the generated ConfigMap,
    everything in the kustomization's namespace (names as written, without the hash suffix)."""
    found = []
    for resource in kustomization["resources"]:
        found += [doc for doc in yaml.safe_load_all((K8S / resource).read_text()) if doc]
    for generator in kustomization.get("configMapGenerator", []):
        data = dict(literal.split("=", 1) for literal in generator.get("literals", []))
        found.append({"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": generator["name"]}, "data": data})
    for item in found:
        if item["kind"] != "Namespace":
            item["metadata"]["namespace"] = kustomization["namespace"]
    return found


def of_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {item["metadata"]["name"]: item for item in objects if item["kind"] == kind}


def pod_spec(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]


def containers(deployment: dict, init: bool = True) -> list[dict]:
    spec = pod_spec(deployment)
    return spec["containers"] + (spec.get("initContainers", []) if init else [])


def env_of(container: dict) -> dict[str, dict]:
    return {item["name"]: item for item in container.get("env", [])}


def package_of(container: dict) -> str | None:
    """The service package a container runs (python -m <package> ..., or <package>.wsgi:app)."""
    for part in container.get("command", []):
        for package in (*DATABASE_URL_KEYS, "frontend"):
            if part == package or part.startswith(package + "."):
                return package
    return None


def secret_example_keys() -> set[str]:
    lines = (K8S / "secrets.example.env").read_text().splitlines()
    return {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}


def test_kubectl_builds_the_same_objects(objects):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    built = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True,
                           timeout=60)
    assert built.returncode == 0, built.stderr
    names = {(item["kind"], re.sub(r"-[a-z0-9]{10}$", "", item["metadata"]["name"]))
             for item in yaml.safe_load_all(built.stdout) if item}
    assert names == {(item["kind"], item["metadata"]["name"]) for item in objects}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_matches_the_kubernetes_api_schemas(objects, version):
    for item in objects:
        try:
            kubernetes_validate.validate(item, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{item['kind']}/{item['metadata']['name']}: {error.message} "
                        f"at {'.'.join(map(str, error.path))}")


# ---- the processes -------------------------------------------------------------------------


def test_every_long_running_process_of_compose_runs_here_with_the_same_program(objects):
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    deployments = of_kind(objects, "Deployment")

    def program(argv: list[str]) -> list[str]:
        # gunicorn's worker count is sized per platform; the program and the app are not.
        return [part for i, part in enumerate(argv)
                if part != "--workers" and (i == 0 or argv[i - 1] != "--workers")]

    for name, service in services.items():
        if service.get("restart") != "unless-stopped" or "build" not in service:
            continue
        assert name in deployments, f"compose runs {name}; the cluster does not"
        [main] = containers(deployments[name], init=False)
        assert program(main["command"]) == program(service["command"]), name
    assert "gateway" in deployments


def test_every_service_process_migrates_its_own_schema_first(objects):
    for name, deployment in of_kind(objects, "Deployment").items():
        [main] = containers(deployment, init=False)
        package = package_of(main)
        if package not in DATABASE_URL_KEYS:
            continue
        [migrate] = pod_spec(deployment)["initContainers"]
        assert migrate["command"] == ["python", "-m", package, "migrate"], name
        assert migrate["image"] == main["image"], name
        assert env_of(migrate) == env_of(main), f"{name}: migrate with the process's settings"


def test_each_service_logs_in_with_its_own_database_url_and_reaches_the_broker(objects):
    for name, deployment in of_kind(objects, "Deployment").items():
        for container in containers(deployment):
            package = package_of(container)
            if package not in DATABASE_URL_KEYS:
                continue
            env = env_of(container)
            secret = env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
            assert (secret["name"], secret["key"]) == ("auction-secrets",
                                                       DATABASE_URL_KEYS[package]), name
            assert env["AMQP_URL"]["valueFrom"]["secretKeyRef"]["key"] == "AMQP_URL", name
            assert {"configMapRef": {"name": "auction-config"}} in container["envFrom"], name


def test_only_user_service_mounts_the_signing_key(objects):
    for name, deployment in of_kind(objects, "Deployment").items():
        volumes = {volume["name"]: volume for volume in pod_spec(deployment).get("volumes", [])}
        signing = [v for v in volumes.values()
                   if v.get("secret", {}).get("secretName") == "jwt-signing-key"]
        package = package_of(containers(deployment, init=False)[0])
        assert bool(signing) == (package == "user_service"), name
        if package in DATABASE_URL_KEYS:
            for container in containers(deployment):
                mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
                key = volumes[mounts["/run/keys"]]
                assert key.get("configMap") == {"name": "jwt-public-key"} or signing, name


def test_every_setting_given_to_a_process_is_one_it_reads(objects, kustomization):
    from pydantic_settings import BaseSettings

    from auction_common.settings import CommonSettings

    def fields(cls: type[BaseSettings]) -> set[str]:
        return {name.upper() for name in cls.model_fields}

    known = fields(CommonSettings)
    for package in (*DATABASE_URL_KEYS, "frontend"):
        module = __import__(f"{package}.settings", fromlist=["_"])
        known |= {name for value in vars(module).values()
                  if isinstance(value, type) and issubclass(value, BaseSettings)
                  for name in fields(value)}
    config = of_kind(objects, "ConfigMap")["auction-config"]["data"]
    referenced = {item["valueFrom"]["configMapKeyRef"]["key"]
                  for deployment in of_kind(objects, "Deployment").values()
                  for container in containers(deployment)
                  for item in container.get("env", [])
                  if "configMapKeyRef" in item.get("valueFrom", {})}
    assert set(config) - referenced <= known, "auction-config holds settings nobody reads"
    for name, deployment in of_kind(objects, "Deployment").items():
        if name == "gateway":
            continue
        for container in containers(deployment):
            assert set(env_of(container)) <= known, (name, set(env_of(container)) - known)


def test_every_python_process_starts_with_the_settings_it_is_given(objects, monkeypatch):
    """Each container's settings load (the example secrets standing in for the real ones):
    no required setting missing, no value its settings class refuses."""
    config = of_kind(objects, "ConfigMap")["auction-config"]["data"]
    secrets = dict(line.split("=", 1)
                   for line in (K8S / "secrets.example.env").read_text().splitlines()
                   if line and not line.startswith("#"))
    # A filled-in copy: the example's placeholders are refused (see the test below).
    secrets["FRONTEND_SECRET_KEY"] = "q7Vd1fJ0zX8mR2kLw5Tn9bPy3cHs6gAe"
    for name, deployment in of_kind(objects, "Deployment").items():
        for container in containers(deployment):
            package = package_of(container)
            if package is None:
                continue
            env = dict(config) if container.get("envFrom") else {}
            for item in container.get("env", []):
                source = item.get("valueFrom", {})
                env[item["name"]] = (item["value"] if "value" in item
                                     else secrets[source["secretKeyRef"]["key"]]
                                     if "secretKeyRef" in source
                                     else config[source["configMapKeyRef"]["key"]])
            with monkeypatch.context() as patched:
                for key in list(os.environ):
                    patched.delenv(key)
                for key, value in env.items():
                    patched.setenv(key, value)
                module = __import__(f"{package}.settings", fromlist=["load"])
                try:
                    module.load()
                except SystemExit as refused:
                    pytest.fail(f"{name}/{container['name']}: {refused}")


def test_the_frontend_refuses_to_start_with_the_examples_placeholder_secret(monkeypatch):
    from frontend.settings import load

    example = dict(line.split("=", 1)
                   for line in (K8S / "secrets.example.env").read_text().splitlines()
                   if line and not line.startswith("#"))
    monkeypatch.setenv("API_URL", "http://gateway:8080")
    monkeypatch.setenv("SECRET_KEY", example["FRONTEND_SECRET_KEY"])
    with pytest.raises(SystemExit, match="SECRET_KEY"):
        load()


def test_every_secret_and_config_key_referenced_exists(objects):
    config = of_kind(objects, "ConfigMap")["auction-config"]["data"]
    documented = secret_example_keys()
    for name, deployment in of_kind(objects, "Deployment").items():
        for container in containers(deployment):
            for item in container.get("env", []):
                source = item.get("valueFrom", {})
                if "secretKeyRef" in source:
                    assert source["secretKeyRef"]["name"] == "auction-secrets", name
                    assert source["secretKeyRef"]["key"] in documented, (name, item["name"])
                if "configMapKeyRef" in source:
                    assert source["configMapKeyRef"]["key"] in config, (name, item["name"])
    assert not any("<" not in line.split("=", 1)[1]
                   for line in (K8S / "secrets.example.env").read_text().splitlines()
                   if line and not line.startswith("#")), "only placeholders, never a secret"


# ---- pods, probes and services -------------------------------------------------------------


def test_python_pods_run_as_a_non_root_user_on_a_read_only_filesystem(objects):
    for name, deployment in of_kind(objects, "Deployment").items():
        if name == "gateway":
            continue
        assert pod_spec(deployment)["securityContext"]["runAsNonRoot"] is True, name
        for container in containers(deployment):
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            # gunicorn and the metrics keep their files in /tmp: it must be writable.
            assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"]), name


def test_every_mount_names_a_volume_and_every_claim_exists(objects):
    claims = set(of_kind(objects, "PersistentVolumeClaim"))
    for name, deployment in of_kind(objects, "Deployment").items():
        volumes = {v["name"]: v for v in pod_spec(deployment).get("volumes", [])}
        for container in containers(deployment):
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes, (name, mount["name"])
        for volume in volumes.values():
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, name


def test_uploaded_media_is_where_the_gateway_serves_it(objects):
    deployments = of_kind(objects, "Deployment")

    def media_claim(name: str, container: dict) -> str:
        volumes = {v["name"]: v for v in pod_spec(deployments[name])["volumes"]}
        root = env_of(container)["MEDIA_ROOT"]["value"]
        [mount] = [m for m in container["volumeMounts"] if m["mountPath"] == root]
        return volumes[mount["name"]]["persistentVolumeClaim"]["claimName"]

    [gateway] = containers(deployments["gateway"])
    [web] = containers(deployments["auction-service-web"], init=False)
    assert media_claim("auction-service-web", web) == media_claim("gateway", gateway)
    claim = of_kind(objects, "PersistentVolumeClaim")[media_claim("gateway", gateway)]
    assert "ReadWriteMany" in claim["spec"]["accessModes"], "pods on several nodes share it"


def test_probes_ask_ports_the_pod_opens_and_paths_the_services_answer(objects):
    for name, deployment in of_kind(objects, "Deployment").items():
        for container in containers(deployment, init=False):
            ports = {port["name"] for port in container.get("ports", [])}
            for kind in ("readinessProbe", "livenessProbe"):
                probe = container.get(kind)
                if probe is None:
                    assert "worker" in name, f"{name} has no {kind}"
                    continue
                check = probe.get("httpGet") or probe.get("tcpSocket")
                assert check["port"] in ports, (name, kind)
                if "httpGet" in probe:
                    assert probe["httpGet"]["path"] in ("/healthz", "/readyz"), (name, kind)


def test_every_service_selects_pods_on_a_port_they_open(objects):
    deployments = of_kind(objects, "Deployment")
    for name, service in of_kind(objects, "Service").items():
        selector = service["spec"]["selector"]
        matching = [d for d in deployments.values()
                    if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert matching, f"Service {name} selects no pod"
        for deployment in matching:
            opened = {port["name"] for c in containers(deployment, init=False)
                      for port in c.get("ports", [])}
            for port in service["spec"]["ports"]:
                assert port["targetPort"] in opened, (name, port)


def test_only_the_gateway_is_reachable_from_outside(objects):
    exposed = {name for name, service in of_kind(objects, "Service").items()
               if service["spec"].get("type", "ClusterIP") != "ClusterIP"}
    assert exposed == {"gateway"}


def test_autoscaled_deployments_leave_their_replica_count_to_the_autoscaler(objects):
    deployments = of_kind(objects, "Deployment")
    for name, autoscaler in of_kind(objects, "HorizontalPodAutoscaler").items():
        target = autoscaler["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment" and target["name"] in deployments, name
        assert "replicas" not in deployments[target["name"]]["spec"], (
            f"{target['name']}: a fixed replica count fights the autoscaler on every apply")


def test_every_disruption_budget_covers_pods_that_exist(objects):
    labels = [d["spec"]["template"]["metadata"]["labels"]
              for d in of_kind(objects, "Deployment").values()]
    for name, budget in of_kind(objects, "PodDisruptionBudget").items():
        wanted = budget["spec"]["selector"]["matchLabels"].items()
        assert any(wanted <= found.items() for found in labels), name


# ---- images and the gateway ------------------------------------------------------------------


def test_every_image_is_built_by_a_stage_of_the_dockerfile(objects, kustomization):
    stages = dockerfile_stages(DOCKERFILE)
    images = {item["name"] for item in kustomization["images"]}
    for name, deployment in of_kind(objects, "Deployment").items():
        for container in containers(deployment):
            image = container["image"].rsplit(":", 1)[0]
            assert image in images, f"{name}: {image} has no entry under images:"
            stage = "gateway" if image.endswith("/gateway") else (
                "frontend" if image.endswith("/frontend") else "service")
            assert stage in stages, image
    copies = [args for keyword, args in stage_chain(stages, "gateway") if keyword == "COPY"]
    assert "gateway/nginx.conf.template /etc/nginx/templates/default.conf.template" in copies


def gateway_environment(objects) -> dict[str, str]:
    [gateway] = containers(of_kind(objects, "Deployment")["gateway"])
    return {item["name"]: item["value"] for item in gateway["env"]}


def test_the_gateway_defines_every_template_variable_and_names_services_that_exist(objects):
    env = gateway_environment(objects)
    placeholders = set(re.findall(r"\$\{(\w+)\}", gateway_template_directives()))
    assert placeholders <= set(env), placeholders - set(env)
    services = of_kind(objects, "Service")
    namespace = of_kind(objects, "Namespace")
    for key, value in env.items():
        if key.endswith("_ADDR") and not value.startswith("127."):
            host, port = value.split()[0].rsplit(":", 1)
            service, *rest = host.split(".")
            assert service in services, (key, value)
            assert rest in ([], [*namespace, "svc", "cluster", "local"]), (key, value)
            assert int(port) == services[service]["spec"]["ports"][0]["port"], (key, value)
    # nginx's own resolver ignores search domains: a re-resolved name must be complete.
    for value in env.values():
        if value.endswith(" resolve"):
            assert value.split(":")[0].endswith(".svc.cluster.local"), value
            assert services[value.split(".")[0]]["spec"].get("clusterIP") == "None", (
                "re-resolving a ClusterIP finds one address, not the pods")
    assert env["GATEWAY_RESOLVER"].startswith("resolver ")


def test_the_rendered_gateway_config_passes_nginx_t(objects, tmp_path):
    nginx = find_nginx()
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    env = gateway_environment(objects)
    # Cluster names resolve only in the cluster; nginx -t resolves every upstream.
    env = {key: re.sub(r"^[\w.-]+:(\d+)", r"127.0.0.1:\1", value) if key.endswith("_ADDR")
           else value for key, value in env.items()}
    env["GATEWAY_RESOLVER"] = "resolver 127.0.0.1 valid=10s;"
    if (nginx_version(nginx) or (0,)) < (1, 27, 3):
        # "resolve" on an upstream server came with nginx 1.27.3 (the gateway image's is newer).
        env = {key: value.removesuffix(" resolve") for key, value in env.items()}
    rendered = render_gateway_template(env)
    assert not re.search(r"\$\{\w+\}", re.sub(r"#.*", "", rendered)), "left unrendered"
    result = nginx_test(nginx, rendered, tmp_path)
    assert result.returncode == 0, result.stderr


# ---- who may connect to whom -----------------------------------------------------------------


def selects(selector: dict, labels: dict) -> bool:
    """A label selector (matchLabels and "In" expressions) against a pod's labels."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    return all(labels.get(expression["key"]) in expression["values"]
               for expression in selector.get("matchExpressions", [])
               if expression["operator"] == "In")


def may_connect(objects, target: str, source: str | None, port: str = "http") -> bool:
    """Whether the NetworkPolicies let ``source`` (a Deployment; None: outside the cluster)
    open a connection to ``target``'s pods on ``port``."""
    deployments = of_kind(objects, "Deployment")
    target_labels = deployments[target]["spec"]["template"]["metadata"]["labels"]
    source_labels = (deployments[source]["spec"]["template"]["metadata"]["labels"]
                     if source else None)
    applicable = [policy["spec"] for policy in of_kind(objects, "NetworkPolicy").values()
                  if "Ingress" in policy["spec"]["policyTypes"]
                  and selects(policy["spec"]["podSelector"], target_labels)]
    if not applicable:
        return True
    for spec in applicable:
        for rule in spec.get("ingress", []):
            ports_ok = not rule.get("ports") or any(p["port"] == port for p in rule["ports"])
            sources = rule.get("from")
            from_ok = not sources or (source_labels is not None and any(
                selects(peer["podSelector"], source_labels)
                for peer in sources if set(peer) == {"podSelector"}))
            if ports_ok and from_ok:
                return True
    return False


def test_the_gateway_is_the_one_way_in_and_reaches_everything_it_routes_to(objects):
    deployments = of_kind(objects, "Deployment")
    services = of_kind(objects, "Service")
    assert may_connect(objects, "gateway", None), "browsers reach the gateway"
    assert may_connect(objects, "gateway", "frontend"), "the frontend calls the APIs there"
    for key, value in gateway_environment(objects).items():
        if key.endswith("_ADDR") and not value.startswith("127."):
            service = services[value.split(":")[0].split(".")[0]]
            [target] = [name for name, d in deployments.items() if selects(
                {"matchLabels": service["spec"]["selector"]},
                d["spec"]["template"]["metadata"]["labels"])]
            assert may_connect(objects, target, "gateway"), f"the gateway cannot reach {target}"
            assert not may_connect(objects, target, None), f"{target} is open to everyone"
    for name in deployments:
        if name != "gateway":
            assert not may_connect(objects, name, "notification-service-worker"), (
                f"a worker can open connections to {name}")


def test_only_the_gateway_reaches_user_service_whose_forwarded_addresses_it_believes(objects):
    for name in of_kind(objects, "Deployment"):
        assert may_connect(objects, "user-service-web", name) == (name == "gateway"), name
