"""packaging/systemd and packaging/k8s use only commands, flags and settings that exist."""

from __future__ import annotations

import dataclasses
import re
import shlex
import stat
from pathlib import Path
from typing import Any

import yaml

from app.cli import COMMANDS, build_parser
from app.config import ENV_PREFIX, Settings
from app.fleet.fleet_key import read_fleet_key, write_fleet_key

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "packaging" / "systemd" / "pairdesk-instance@.service"
K8S = ROOT / "packaging" / "k8s"
SETTINGS = {f.name for f in dataclasses.fields(Settings)}


def _unit() -> dict[str, list[tuple[str, str]]]:
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections[current] = []
            continue
        key, _, value = line.partition("=")
        sections[current].append((key, value))
    return sections


def _values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [v for k, v in section if k == key]


def _parses(argv: list[str]) -> Any:
    """The pairdesk command line `argv` (after the program) parsed by pairdesk's own parser."""
    assert argv[0] in COMMANDS, f"no pairdesk command {argv[0]!r}"
    return build_parser(argv[0]).parse_args(argv)


def _setting(env_name: str) -> str:
    assert env_name.startswith(ENV_PREFIX), env_name
    return env_name[len(ENV_PREFIX) :].lower()


def test_the_systemd_unit_runs_an_existing_command_with_existing_settings() -> None:
    unit = _unit()
    service = unit["Service"]
    (exec_start,) = _values(service, "ExecStart")
    argv = shlex.split(exec_start.replace("%H", "host").replace("%i", "0"))
    assert argv[0].endswith("/pairdesk")
    used_in_command = set(re.findall(r"\$\{(\w+)\}", exec_start))
    args = _parses([a.replace("${PAIRDESK_PORT}", "8701") for a in argv[1:]])
    assert (args.command, args.instance_name, args.port) == ("instance", "host-0", 8701)
    # Every PAIRDESK_* it sets, or tells the operator to set, is a setting (or feeds ExecStart).
    names = {v.split("=", 1)[0] for v in _values(service, "Environment")}
    names |= set(re.findall(r"#\s+(PAIRDESK_\w+)=", UNIT.read_text()))
    for name in names - used_in_command:
        assert _setting(name) in SETTINGS, f"{name} is not a pairdesk setting"
    assert used_in_command <= names
    # The secret comes from a credentials file, not the environment.
    assert any(v.startswith("webhook-secret:") for v in _values(service, "LoadCredential"))
    assert "PAIRDESK_WEBHOOK_SECRET_FILE=%d/webhook-secret" in _values(service, "Environment")
    assert not [n for n in names if n == "PAIRDESK_WEBHOOK_SECRET"]
    # So does the fleet snapshot key (systemd makes the credential 0400, owned by the user).
    assert any(v.startswith("fleet-key:") for v in _values(service, "LoadCredential"))
    assert "PAIRDESK_FLEET_KEY_FILE=%d/fleet-key" in _values(service, "Environment")
    assert _values(service, "Restart") == ["on-failure"]
    assert _values(service, "NoNewPrivileges") == ["yes"]
    assert _values(unit["Install"], "WantedBy") == ["multi-user.target"]


def _k8s() -> dict[str, dict[str, Any]]:
    docs: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            docs[doc["kind"]] = doc
    return docs


def test_the_kubernetes_manifests_fit_together_and_use_existing_settings() -> None:
    docs = _k8s()
    assert set(docs) == {"StatefulSet", "Service", "Secret"}
    sts, service, secret = docs["StatefulSet"], docs["Service"], docs["Secret"]
    assert sts["spec"]["serviceName"] == service["metadata"]["name"]
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    command = container["command"]
    assert command[0] == "pairdesk"
    args = _parses(command[1:])
    assert args.command == "instance"
    port = container["ports"][0]["containerPort"]
    assert args.port == port
    secret_keys = set(secret["stringData"])
    for env in container["env"]:
        if env["name"].startswith(ENV_PREFIX):
            assert _setting(env["name"]) in SETTINGS, f"{env['name']} is not a pairdesk setting"
        ref = env.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret_keys
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["PAIRDESK_INSTANCE_NAME"] == "$(POD_NAME)"  # stable member names
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    items = volumes["webhook-secret"]["secret"]["items"]
    assert {i["key"] for i in items} <= secret_keys
    mount = next(m for m in container["volumeMounts"] if m["name"] == "webhook-secret")
    assert env["PAIRDESK_WEBHOOK_SECRET_FILE"] == f"{mount['mountPath']}/{items[0]['path']}"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        code = container[probe]["exec"]["command"][-1]
        compile(code, probe, "exec")  # valid Python
        assert f"127.0.0.1:{port}/health" in code and "PAIRDESK_INSTANCE_TOKEN" in code
    assert container["resources"]["requests"]["memory"]
    grace = sts["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= Settings().lease_ttl  # time to snapshot and release before SIGKILL


def test_kubernetes_gives_every_member_the_fleet_key_as_a_0600_file(tmp_path: Path) -> None:
    docs = _k8s()
    sts, secret = docs["StatefulSet"], docs["Secret"]
    pod = sts["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    key_file = env["PAIRDESK_FLEET_KEY_FILE"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    (item,) = volumes["fleet-key"]["secret"]["items"]
    assert volumes["fleet-key"]["secret"]["secretName"] == secret["metadata"]["name"]
    assert item["key"] in secret["stringData"]
    # The init container copies the Secret's file (group-readable under fsGroup) to
    # the state volume the member mounts, 0600.
    (init,) = pod["initContainers"]
    code = init["command"][-1]
    compile(code, "fleet-key", "exec")
    mounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
    assert f"'{mounts['fleet-key']}/{item['path']}'" in code
    assert f"'{key_file}'" in code and "0o600" in code
    member_mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert (
        key_file.startswith(member_mounts["state"] + "/")
        and mounts["state"] == member_mounts["state"]
    )
    # Run the copy for real, on stand-in paths: the member accepts what it writes.
    secret_file = tmp_path / "secret.key"
    write_fleet_key(secret_file)
    secret_file.chmod(0o440)  # as under fsGroup
    copied = tmp_path / "fleet.key"
    code = code.replace(f"{mounts['fleet-key']}/{item['path']}", str(secret_file))
    exec(code.replace(key_file, str(copied)), {})
    assert stat.S_IMODE(copied.stat().st_mode) == 0o600
    read_fleet_key(str(copied))
