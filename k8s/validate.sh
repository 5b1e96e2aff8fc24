#!/usr/bin/env bash
# Render both kustomizations and validate them offline (see docs/deployment.md):
# built-in kinds with kubernetes-validate --strict, the KEDA ScaledObject with check_keda.py.
# Tools go in a throwaway venv (default /tmp/kneecave-k8s-lint), never the project venv.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${LINT_VENV:-/tmp/kneecave-k8s-lint}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
if [[ ! -x "$venv/bin/kubernetes-validate" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet kubernetes-validate
fi
for target in base overlays/gpu; do
    file="$out/${target//\//-}.yaml"
    kubectl kustomize "$here/$target" > "$file"
    for version in 1.28.0 1.37.0; do
        "$venv/bin/kubernetes-validate" --strict --quiet --no-warn -k "$version" "$file"
    done
    "$venv/bin/python" "$here/check_keda.py" "$file"
done
echo "k8s manifests valid"
