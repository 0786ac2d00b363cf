#!/usr/bin/env bash
# Validates what deploy/ ships, as far as this machine can without a
# container engine or a cluster (deploy/README.md, "What is validated"):
#
#   tongban.service  systemd-analyze verify (unit syntax, sandboxing keys, the
#                    ExecStart binary: the one built here, else /bin/true)
#   compose.yaml     docker compose config (or docker-compose 1.29 config)
#   k8s/*.yaml       YAML, then kubernetes-validate --strict (the API schemas)
#   prometheus.yml   promtool check config (from Debian's prometheus package,
#                    unpacked: the server is not installed or started)
#   *.sh             bash -n and shellcheck
#   Containerfile    its shape only (stages, non-root USER, EXPOSE, HEALTHCHECK):
#                    no image is built
#
# Installs what is missing (pip, apt). Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")"
deploy=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

step() { printf -- '-- %s\n' "$*"; }
fail() { echo "deploy/check.sh: $*" >&2; exit 1; }
apt_install() {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
pip_install() { python3 -m pip install --quiet --disable-pip-version-check "$@"; }

step "systemd unit: systemd-analyze verify"
command -v systemd-analyze >/dev/null || apt_install systemd
binary=$(cd .. && pwd)/target/debug/tongban
[ -x "$binary" ] || binary=/bin/true
sed "s|^ExecStart=/usr/local/bin/tongban|ExecStart=$binary|" tongban.service > "$tmp/tongban.service"
# verify exits 0 on unknown keys and misplaced settings, printing them: any
# output is a failure.
out=$(systemd-analyze verify "$tmp/tongban.service" 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify: $out"
grep -q '^Type=notify$' tongban.service || fail "tongban.service: not Type=notify"
echo "tongban.service: verified (ExecStart=$binary)"

step "YAML: every file parses"
python3 -c 'import yaml' 2>/dev/null || pip_install pyyaml
python3 - compose.yaml prometheus.yml k8s/*.yaml <<'PY'
import sys, yaml
for path in sys.argv[1:]:
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    if not docs:
        sys.exit(f"{path}: no YAML document")
    print(f"{path}: {len(docs)} document(s)")
PY

step "Kubernetes manifests: kubernetes-validate --strict"
command -v kubernetes-validate >/dev/null || pip_install kubernetes-validate
manifests=()
for f in k8s/*.yaml; do
    [ "$(basename "$f")" = kustomization.yaml ] || manifests+=("$f")
done
kubernetes-validate --strict --quiet "${manifests[@]}"
echo "${#manifests[@]} manifest files valid against the Kubernetes $(kubernetes-validate --version) schemas"
python3 - k8s/kustomization.yaml <<'PY'
import os, sys, yaml
k = yaml.safe_load(open(sys.argv[1]))
here = os.path.dirname(sys.argv[1])
missing = [r for r in k["resources"] if not os.path.exists(os.path.join(here, r))]
listed = set(k["resources"])
unlisted = [f for f in os.listdir(here) if f.endswith(".yaml") and f != "kustomization.yaml" and f not in listed]
if missing or unlisted:
    sys.exit(f"kustomization.yaml: missing {missing}, not listed {unlisted}")
print("kustomization.yaml: lists every manifest")
PY

step "compose file: compose config"
if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
else
    command -v docker-compose >/dev/null || apt_install docker-compose
    compose=(docker-compose)
fi
"${compose[@]}" -f compose.yaml config -q
services=$("${compose[@]}" -f compose.yaml config --services | sort | tr '\n' ' ')
[ "$services" = "hub-1 hub-2 hub-3 init postgres prometheus s3 s3-bucket " ] ||
    fail "compose.yaml: services are $services"
echo "compose.yaml: valid for ${compose[*]} ($services)"

step "Prometheus configuration: promtool check config"
promtool=$(command -v promtool || true)
if [ -z "$promtool" ]; then
    (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1) ||
        { apt-get update -qq && (cd "$tmp" && apt-get download -qq prometheus >/dev/null); }
    dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/prometheus"
    promtool=$tmp/prometheus/usr/bin/promtool
fi
"$promtool" check config prometheus.yml
for node in hub-1 hub-2 hub-3; do
    grep -q "$node:8080" prometheus.yml || fail "prometheus.yml does not scrape $node"
done

step "scripts: bash -n, shellcheck"
command -v shellcheck >/dev/null || apt_install shellcheck
for script in *.sh; do
    bash -n "$script"
done
shellcheck ./*.sh
scripts=(./*.sh)
echo "${#scripts[@]} scripts clean"

step "Containerfile: its shape (not built: no container engine here)"
grep -Eq '^FROM .* AS build$' Containerfile || fail "Containerfile: no build stage"
[ "$(grep -c '^FROM ' Containerfile)" = 2 ] || fail "Containerfile: not two stages"
grep -Eq '^USER [1-9][0-9]*' Containerfile || fail "Containerfile: not a non-root numeric USER"
grep -q '^EXPOSE 4433/udp 8080/tcp$' Containerfile || fail "Containerfile: EXPOSE"
grep -q '^HEALTHCHECK ' Containerfile || fail "Containerfile: no HEALTHCHECK"
grep -q '/healthz' Containerfile || fail "Containerfile: the health check is not on /healthz"
echo "Containerfile: two stages, numeric non-root user, QUIC and HTTP exposed, a health check"

echo "deploy/ checked in $deploy"
