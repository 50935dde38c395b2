#!/usr/bin/env bash
# Build the tools gpu-fleet's integration tests need, from Go modules pinned in tools/versions.env, into a
# cache outside the repository:
#
#     ${GPUFLEET_TOOLS:-$HOME/.cache/gpufleet-tools}/<hash>/bin
#
# <hash> covers versions.env and the Go version; a tool whose stamp (its module's go.mod, go.sum and Go files)
# is unchanged is skipped. Go's own build cache makes a rebuild after a small change cheap.
#
#     tools/build.sh              build what is missing (all tools)
#     tools/build.sh TOOL...      only these: pulumi pulumi-language-python kubernetes-provider etcd kube
#     tools/build.sh --print-bin  print the bin directory (builds nothing)
#     tools/build.sh sync [pulumi|etcd|kube|provider]...  rewrite each tool module's go.mod/go.sum from versions.env (needs the proxy)
#
# Environment: GO (default: go on PATH, else /usr/local/go/bin/go), GPUFLEET_TOOLS, GOFLAGS (default
# -p=2), NICE (default 10).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
export GOFLAGS="${GOFLAGS:--p=2} -buildvcs=false"
export CGO_ENABLED="${CGO_ENABLED:-0}"
NICE="${NICE:-10}"
ALL_TOOLS=(pulumi pulumi-language-python etcd kube kubernetes-provider)

log() { printf '[tools] %s\n' "$*" >&2; }
die() { printf '[tools] error: %s\n' "$*" >&2; exit 1; }

# k8s.io/kubernetes replaces every staging module with ./staging/src/k8s.io/NAME; a module that requires
# k8s.io/kubernetes must replace each of them with its published v0.<minor>.<patch> version.
kube_staging_replaces() {
    local mod staging="v0.${KUBERNETES_VERSION#v1.}"
    mod="$("$GO" mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
    [ -f "$mod" ] || die "cannot read the go.mod of k8s.io/kubernetes@$KUBERNETES_VERSION"
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "$mod" |
        while read -r m; do printf -- '-replace=%s=%s@%s\n' "$m" "$m" "$staging"; done
}

# Copy the non-local replace directives of a module's go.mod (upstream builds rely on them).
nonlocal_replaces() {
    local mod
    mod="$("$GO" mod download -json "$1" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
    "$GO" mod edit -json "$mod" | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    new = r["New"]
    if new.get("Version"):
        old = r["Old"]["Path"] + ("@" + r["Old"]["Version"] if r["Old"].get("Version") else "")
        print("-replace=%s=%s@%s" % (old, new["Path"], new["Version"]))'
}

new_gomod() { # dir module-path
    rm -f "$1/go.mod" "$1/go.sum"
    (cd "$1" && "$GO" mod init "$2" >/dev/null 2>&1 && "$GO" mod edit -go=1.26)
}

sync_pulumi() {
    log "sync: pulumi ($PULUMI_VERSION)"
    new_gomod "$here/pulumi" gpufleet.local/tools/pulumi
    (cd "$here/pulumi" &&
        "$GO" mod edit -require="github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" \
            -require="github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" \
            $(nonlocal_replaces "github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION") \
            -tool=github.com/pulumi/pulumi/pkg/v3/cmd/pulumi &&
        "$GO" mod tidy)
}

sync_etcd() {
    log "sync: etcd ($ETCD_VERSION)"
    new_gomod "$here/etcd" gpufleet.local/tools/etcd
    (cd "$here/etcd" && "$GO" mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION" &&
        "$GO" mod tidy)
}

sync_kube() {
    log "sync: kube ($KUBERNETES_VERSION)"
    new_gomod "$here/kube" gpufleet.local/tools/kube
    (cd "$here/kube" &&
        "$GO" mod edit -require="k8s.io/kubernetes@$KUBERNETES_VERSION" $(kube_staging_replaces) \
            -tool=k8s.io/kubernetes/cmd/kube-apiserver -tool=k8s.io/kubernetes/cmd/kube-controller-manager &&
        "$GO" mod tidy)
}

sync_provider() {
    log "sync: kubernetes-provider ($K8S_PROVIDER_MODULE_VERSION)"
    new_gomod "$here/kubernetes-provider" gpufleet.local/tools/kubernetes-provider
    (cd "$here/kubernetes-provider" &&
        "$GO" mod edit -require="github.com/pulumi/pulumi-kubernetes/provider/v4@$K8S_PROVIDER_MODULE_VERSION" \
            $(nonlocal_replaces "github.com/pulumi/pulumi-kubernetes/provider/v4@$K8S_PROVIDER_MODULE_VERSION") \
            -replace="github.com/pulumi/pulumi-kubernetes/sdk/v4=github.com/pulumi/pulumi-kubernetes/sdk/v4@$K8S_PROVIDER_SDK_VERSION" &&
        provider_embeds && "$GO" mod tidy)
}

# Fail when a go.mod no longer matches versions.env (someone edited one but not the other).
check_pins() {
    local want
    want="github.com/pulumi/pulumi/pkg/v3 $PULUMI_VERSION"
    (cd "$here/pulumi" && "$GO" list -m github.com/pulumi/pulumi/pkg/v3) | grep -qx "$want" ||
        die "tools/pulumi/go.mod does not require $want: run tools/build.sh sync"
    want="go.etcd.io/etcd/server/v3 $ETCD_VERSION"
    (cd "$here/etcd" && "$GO" list -m go.etcd.io/etcd/server/v3) | grep -qx "$want" ||
        die "tools/etcd/go.mod does not require $want: run tools/build.sh sync"
    want="k8s.io/kubernetes $KUBERNETES_VERSION"
    (cd "$here/kube" && "$GO" list -m k8s.io/kubernetes) | grep -qx "$want" ||
        die "tools/kube/go.mod does not require $want: run tools/build.sh sync"
    want="github.com/pulumi/pulumi-kubernetes/provider/v4 $K8S_PROVIDER_MODULE_VERSION"
    (cd "$here/kubernetes-provider" && "$GO" list -m github.com/pulumi/pulumi-kubernetes/provider/v4) |
        grep -qx "$want" || die "tools/kubernetes-provider/go.mod does not require $want: run tools/build.sh sync"
}

moddir() { # module@version, resolved inside a tool module directory $1
    (cd "$1" && "$GO" mod download -json "$2" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
}

# The provider's upstream main embeds minified copies of two files that are in its module.
provider_embeds() {
    local dir
    dir="$(moddir "$here/kubernetes-provider" "github.com/pulumi/pulumi-kubernetes/provider/v4@$K8S_PROVIDER_MODULE_VERSION")"
    python3 - "$dir/cmd/pulumi-resource-kubernetes" "$here/kubernetes-provider" <<'PY'
import json, sys
src, dst = sys.argv[1], sys.argv[2]
for name, out in (("schema.json", "schema-embed.json"), ("terraform-mapping.json", "terraform-mapping-embed.json")):
    with open(f"{src}/{name}") as f:
        data = json.load(f)
    with open(f"{dst}/{out}", "w") as f:
        json.dump(data, f, separators=(",", ":"))
PY
}

# The cache directory is keyed by versions.env and the Go version; within it each tool carries a stamp, the
# hash of its own module's go.mod, go.sum and Go files, and is rebuilt when that changes.
cache_hash() {
    { cat "$here/versions.env"; "$GO" version; } | sha256sum | cut -c1-16
}

module_of() {
    case "$1" in
        pulumi | pulumi-language-python) echo pulumi ;;
        *) echo "$1" ;;
    esac
}

tool_stamp() {
    (cd "$here/$(module_of "$1")" && find . \( -name go.mod -o -name go.sum -o -name '*.go' \) -print |
        LC_ALL=C sort | xargs sha256sum; cat "$here/versions.env") | sha256sum | cut -c1-16
}

root="${GPUFLEET_TOOLS:-$HOME/.cache/gpufleet-tools}"
bin="$root/$(cache_hash)/bin"

build_one() { # tool
    local t="$1" start stamp
    stamp="$(tool_stamp "$t")"
    case "$t" in
        pulumi | pulumi-language-python | etcd | kube | kubernetes-provider) ;;
        *) die "unknown tool '$t' (known: ${ALL_TOOLS[*]})" ;;
    esac
    if [ "$(cat "$bin/.stamp-$t" 2>/dev/null)" = "$stamp" ]; then
        log "$t is up to date"
        return 0
    fi
    start=$(date +%s)
    log "building $t"
    local b=(nice -n "$NICE" "$GO" build -trimpath)
    local tmp="$bin/.tmp-$t"
    rm -rf "$tmp" && mkdir -p "$tmp"
    case "$t" in
        pulumi)
            (cd "$here/pulumi" && "${b[@]}" -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
                -o "$tmp/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) ;;
        pulumi-language-python)
            (cd "$here/pulumi" && "${b[@]}" -ldflags "-s -w -X main.version=${PULUMI_VERSION#v}" \
                -o "$tmp/pulumi-language-python" ./cmd/pulumi-language-python)
            # The SDK's exec shim that the language host runs the program through.
            install -m 0755 "$(moddir "$here/pulumi" "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION")/python/cmd/pulumi-language-python-exec" \
                "$tmp/pulumi-language-python-exec" ;;
        etcd)
            (cd "$here/etcd" && "${b[@]}" -ldflags "-s -w" -o "$tmp/etcd" .) ;;
        kube)
            local kv="-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1"
            kv="$kv -X k8s.io/component-base/version.gitMinor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)"
            kv="$kv -X k8s.io/component-base/version.gitTreeState=clean"
            kv="$kv -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION"
            (cd "$here/kube" && "${b[@]}" -ldflags "-s -w $kv" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver &&
                "${b[@]}" -ldflags "-s -w $kv" -o "$tmp/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager) ;;
        kubernetes-provider)
            provider_embeds
            (cd "$here/kubernetes-provider" && "${b[@]}" \
                -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$K8S_PROVIDER_VERSION" \
                -o "$tmp/pulumi-resource-kubernetes" .) ;;
    esac
    mv "$tmp"/* "$bin/" && rmdir "$tmp"
    echo "$stamp" > "$bin/.stamp-$t"
    log "built $t in $(( $(date +%s) - start ))s"
}

case "${1:-}" in
    sync)
        shift
        for t in "${@:-pulumi etcd kube provider}"; do
            for u in $t; do "sync_${u/kubernetes-/}"; done
        done
        log "sync: done; review and commit tools/*/go.mod tools/*/go.sum"
        exit 0 ;;
    --print-bin) echo "$bin"; exit 0 ;;
esac

check_pins
mkdir -p "$bin"
total=$(date +%s)
tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=("${ALL_TOOLS[@]}")
for t in "${tools[@]}"; do build_one "$t"; done
log "all requested tools ready in $(( $(date +%s) - total ))s: $bin"
echo "$bin"
