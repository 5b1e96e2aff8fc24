"""Validate KEDA ScaledObjects in rendered manifests (kubernetes-validate has no CRD schemas).

The schema is the `spec` part of KEDA's CRD (keda.sh_scaledobjects.yaml, v1alpha1), written
out for the fields this repo may use and made strict (unknown fields fail, like kubeconform
-strict); redis-streams trigger metadata is checked against the keys KEDA documents.
Usage: python k8s/check_keda.py RENDERED.yaml...  (needs pyyaml + jsonschema).
"""

from __future__ import annotations

import sys
from typing import Any

import jsonschema
import yaml

_INT = {"type": "integer"}
_STR = {"type": "string"}
_POLICY = {
    "type": "object",
    "required": ["periodSeconds", "type", "value"],
    "properties": {"periodSeconds": _INT, "type": _STR, "value": _INT},
}
_RULES = {
    "type": "object",
    "properties": {
        "policies": {"type": "array", "items": _POLICY},
        "selectPolicy": _STR,
        "stabilizationWindowSeconds": _INT,
    },
}
_HPA = {
    "type": "object",
    "properties": {
        "behavior": {"type": "object", "properties": {"scaleDown": _RULES, "scaleUp": _RULES}},
        "name": _STR,
    },
}
_TRIGGER = {
    "type": "object",
    "required": ["metadata", "type"],
    "properties": {
        "authenticationRef": {
            "type": "object",
            "required": ["name"],
            "properties": {"kind": _STR, "name": _STR},
        },
        "metadata": {"type": "object", "additionalProperties": _STR},
        "metricType": _STR,
        "name": _STR,
        "type": _STR,
        "useCachedMetrics": {"type": "boolean"},
    },
}
_SPEC = {
    "type": "object",
    "required": ["scaleTargetRef", "triggers"],
    "properties": {
        "advanced": {
            "type": "object",
            "properties": {
                "horizontalPodAutoscalerConfig": _HPA,
                "restoreToOriginalReplicaCount": {"type": "boolean"},
            },
        },
        "cooldownPeriod": _INT,
        "initialCooldownPeriod": _INT,
        "fallback": {
            "type": "object",
            "required": ["failureThreshold", "replicas"],
            "properties": {"failureThreshold": _INT, "replicas": _INT},
        },
        "idleReplicaCount": _INT,
        "maxReplicaCount": _INT,
        "minReplicaCount": _INT,
        "pollingInterval": _INT,
        "scaleTargetRef": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "apiVersion": _STR,
                "envSourceContainerName": _STR,
                "kind": _STR,
                "name": _STR,
            },
        },
        "triggers": {"type": "array", "minItems": 1, "items": _TRIGGER},
    },
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": {"type": "object"},
        "spec": _SPEC,
    },
}
# keda.sh/docs/latest/scalers/redis-streams/
REDIS_STREAMS_KEYS = frozenset(
    {
        "address", "host", "port", "addressFromEnv", "hostFromEnv", "portFromEnv",
        "usernameFromEnv", "passwordFromEnv", "stream", "consumerGroup",
        "pendingEntriesCount", "streamLength", "lagCount", "activationLagCount",
        "databaseIndex", "enableTLS", "unsafeSsl",
    }
)  # fmt: skip


def _strict(node: Any) -> Any:
    """Copy of a schema with additionalProperties: false wherever properties are listed."""
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


def problems(doc: dict[str, Any]) -> list[str]:
    found = [e.message for e in jsonschema.Draft7Validator(_strict(SCHEMA)).iter_errors(doc)]
    for trigger in doc.get("spec", {}).get("triggers", []):
        if trigger.get("type") == "redis-streams":
            unknown = sorted(set(trigger.get("metadata", {})) - REDIS_STREAMS_KEYS)
            if unknown:
                found.append(f"unknown redis-streams metadata {unknown}")
    return found


def main(paths: list[str]) -> int:
    failed = checked = 0
    for path in paths:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d and d.get("kind") == "ScaledObject"]
        for doc in docs:
            checked += 1
            name = f"{path} scaledobject/{doc['metadata']['name']}"
            for problem in problems(doc):
                failed += 1
                sys.stderr.write(f"FAIL {name}: {problem}\n")
    if checked == 0:
        sys.stderr.write("no ScaledObject found\n")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
