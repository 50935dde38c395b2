#!/usr/bin/env bash
# Build the tools gpu-fleet's integration tests need, from Go modules pinned in tools/versions.env, into a
# cache outside the repository, one directory per tool and key:
#
#     ${GPUFLEET_TOOLS:-$HOME/.cache/gpufleet-tools}/<tool>-<key>/   the tool's executables
#     ${GPUFLEET_TOOLS:-$HOME/.cache/gpufleet-tools}/bin-<hash>/     symlinks to every tool's (printed last)
#
# A tool's <key> covers only its own pins and recipe (see TOOLS and tool_key), so bumping one pin rebuilds one
# tool and adding a tool rebuilds none of the others; <hash> covers every tool's key. Tools whose Kubernetes
# libraries agree share one Go module (kube: the control plane and kwok), so Go's build cache compiles each
# shared package once; kueue's and karpenter's are older than the control plane's (v0.35), so they share a
# module of their own (controllers).
#
#     tools/build.sh               build what is missing (all tools)
#     tools/build.sh TOOL...       only these (pulumi etcd kube kwok kubernetes-provider kueue karpenter, or an executable's name)
#     tools/build.sh --print-bin   print the bin directory (builds nothing)
#     tools/build.sh --print-keys  print each tool's directory, then the bin directory (builds nothing)
#     tools/build.sh sync [pulumi|etcd|kube|provider|controllers]...  rewrite each tool module's go.mod/go.sum from versions.env (needs the proxy)
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

# Each tool: the module under tools/ it builds in, the executables it makes, and the versions.env variables
# its build reads (its key covers these and no others). The Python language host is part of pulumi: the CLI
# warns on every run when it finds a bundled plugin on PATH that is not in its own (symlink-resolved) directory.
# Built in this order: the control plane and the controllers first, as the integration tests that need only them
# run while the Pulumi CLI and the Kubernetes provider build (tests/tool_build.py).
TOOLS='
etcd                 etcd                 etcd                                                      ETCD_VERSION
kube                 kube                 kube-apiserver,kube-controller-manager,kube-scheduler     KUBERNETES_VERSION
kwok                 kube                 kwok                                                      KUBERNETES_VERSION,KWOK_VERSION
kueue                controllers          kueue                                                     KUEUE_VERSION
karpenter            controllers          karpenter-kwok                                            KARPENTER_VERSION
pulumi               pulumi               pulumi,pulumi-language-python,pulumi-language-python-exec  PULUMI_VERSION
kubernetes-provider  kubernetes-provider  pulumi-resource-kubernetes  K8S_PROVIDER_MODULE_VERSION,K8S_PROVIDER_VERSION,K8S_PROVIDER_SDK_VERSION
'
ALL_TOOLS=()
declare -A MODULE EXES VARS
while read -r t m e v; do
    [ -n "$t" ] || continue
    ALL_TOOLS+=("$t") MODULE[$t]="$m" EXES[$t]="${e//,/ }" VARS[$t]="${v//,/ }"
done <<<"$TOOLS"

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

# The control plane and kwok: kwok's Kubernetes libraries are the control plane's (the staging replaces).
sync_kube() {
    log "sync: kube ($KUBERNETES_VERSION, kwok $KWOK_VERSION)"
    new_gomod "$here/kube" gpufleet.local/tools/kube
    (cd "$here/kube" &&
        "$GO" mod edit -require="k8s.io/kubernetes@$KUBERNETES_VERSION" -require="sigs.k8s.io/kwok@$KWOK_VERSION" \
            $(kube_staging_replaces) -tool=k8s.io/kubernetes/cmd/kube-apiserver \
            -tool=k8s.io/kubernetes/cmd/kube-controller-manager -tool=k8s.io/kubernetes/cmd/kube-scheduler \
            -tool=sigs.k8s.io/kwok/cmd/kwok &&
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

# Kueue and Karpenter in one module: their Kubernetes libraries (v0.35) are not the control plane's (versions.env).
sync_controllers() {
    log "sync: controllers (kueue $KUEUE_VERSION, karpenter $KARPENTER_VERSION)"
    new_gomod "$here/controllers" gpufleet.local/tools/controllers
    (cd "$here/controllers" &&
        "$GO" mod edit -require="sigs.k8s.io/kueue@$KUEUE_VERSION" -require="sigs.k8s.io/karpenter@$KARPENTER_VERSION" \
            -tool=sigs.k8s.io/kueue/cmd/kueue -tool=sigs.k8s.io/karpenter/kwok &&
        "$GO" mod tidy)
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
    for want in "k8s.io/kubernetes $KUBERNETES_VERSION" "sigs.k8s.io/kwok $KWOK_VERSION"; do
        (cd "$here/kube" && "$GO" list -m "${want% *}") | grep -qx "$want" ||
            die "tools/kube/go.mod does not require $want: run tools/build.sh sync"
    done
    want="github.com/pulumi/pulumi-kubernetes/provider/v4 $K8S_PROVIDER_MODULE_VERSION"
    (cd "$here/kubernetes-provider" && "$GO" list -m github.com/pulumi/pulumi-kubernetes/provider/v4) |
        grep -qx "$want" || die "tools/kubernetes-provider/go.mod does not require $want: run tools/build.sh sync"
    for want in "sigs.k8s.io/kueue $KUEUE_VERSION" "sigs.k8s.io/karpenter $KARPENTER_VERSION"; do
        (cd "$here/controllers" && "$GO" list -m "${want% *}") | grep -qx "$want" ||
            die "tools/controllers/go.mod does not require $want: run tools/build.sh sync"
    done
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

# Recipes, one per tool: run in the tool's module directory, each writes its executables into $tmp. tool_key
# hashes the recipe's text (without comments), so changing a recipe rebuilds its tool.
build_pulumi() {
    "${gobuild[@]}" -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
        -o "$tmp/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    "${gobuild[@]}" -ldflags "-s -w -X main.version=${PULUMI_VERSION#v}" -o "$tmp/pulumi-language-python" \
        ./cmd/pulumi-language-python
    # The SDK's exec shim that the language host runs the program through.
    install -m 0755 "$(moddir . "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION")/python/cmd/pulumi-language-python-exec" \
        "$tmp/pulumi-language-python-exec"
}

build_etcd() {
    "${gobuild[@]}" -ldflags "-s -w" -o "$tmp/etcd" .
}

# One `go build` for the three: it compiles their shared packages once and links them in parallel.
build_kube() {
    local kv="-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1"
    kv="$kv -X k8s.io/component-base/version.gitMinor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)"
    kv="$kv -X k8s.io/component-base/version.gitTreeState=clean"
    kv="$kv -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION"
    "${gobuild[@]}" -ldflags "-s -w $kv" -o "$tmp/" k8s.io/kubernetes/cmd/kube-apiserver \
        k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
}

# kwok simulates nothing without Stages. kwok.yaml beside it holds the ones kwokctl configures by default
# (pkg/kwokctl/runtime/cluster.go getDefaultNodeStages with a node lease, getDefaultPodStages), taken from
# the module's kustomize/stage/ at this version, except pod-complete: the fast one completes a Job's pods as
# soon as they run, and the Kueue tests need Job pods that keep running. pod/general/pod-complete matches the
# same pods (Running with Ready True, which pod/fast/pod-ready sets) and completes them after a delay: by
# default 1-5 s at random; a pod's annotations pod-complete.stage.kwok.x-k8s.io/delay and .../jitter-delay set
# it, both needed for a longer one (pkg/utils/lifecycle/lifecycle.go, Stage.Delay: a jitter-delay not above
# the delay is the delay, so delay alone is capped at the 5 s default jitter), e.g. both "1h".
build_kwok() {
    local stage src
    "${gobuild[@]}" -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" -o "$tmp/kwok" \
        sigs.k8s.io/kwok/cmd/kwok
    src="$(moddir . "sigs.k8s.io/kwok@$KWOK_VERSION")/kustomize/stage"
    for stage in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
        pod/fast/pod-ready pod/general/pod-complete pod/fast/pod-delete; do
        printf -- '---\n'
        cat "$src/$stage.yaml"
    done > "$tmp/kwok.yaml"
}

build_kubernetes_provider() {
    provider_embeds
    "${gobuild[@]}" -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$K8S_PROVIDER_VERSION" \
        -o "$tmp/pulumi-resource-kubernetes" .
}

# Of what kueue's Makefile stamps (LD_FLAGS: $(version_pkg).GitVersion, GitCommit, BuildDate; version_pkg is
# sigs.k8s.io/kueue/pkg/version) only the version, which the manager logs at start: a date would vary the build.
build_kueue() {
    "${gobuild[@]}" -ldflags "-s -w -X sigs.k8s.io/kueue/pkg/version.GitVersion=$KUEUE_VERSION" -o "$tmp/kueue" \
        sigs.k8s.io/kueue/cmd/kueue
}

# Karpenter's core with its KWOK cloud provider (sigs.k8s.io/karpenter/kwok): it launches simulated nodes (Node
# objects the kwok controller keeps Ready) for the NodePools the program renders. The version is stamped where
# the operator reads it (pkg/operator/operator.go logs and exports operator.Version).
build_karpenter() {
    "${gobuild[@]}" -ldflags "-s -w -X sigs.k8s.io/karpenter/pkg/operator.Version=$KARPENTER_VERSION" \
        -o "$tmp/karpenter-kwok" sigs.k8s.io/karpenter/kwok
}

# A tool's key: what its build reads of its own and nothing else (not versions.env's comments, not another
# tool's pins): the Go toolchain, its versions.env variables, its recipe and its module's Go files. A module's
# go.mod and go.sum are written from versions.env (sync) and checked against it (check_pins), so the pins stand
# for them; hashing them would rebuild every tool of a shared module when one of them is added or bumped.
tool_key() { # tool
    local t="$1" v
    {
        echo "$go_version CGO_ENABLED=$CGO_ENABLED"
        for v in ${VARS[$t]}; do
            [ -n "${!v:-}" ] || die "tools/versions.env does not set $v"
            echo "$v=${!v}"
        done
        declare -f "build_${t//-/_}"
        cd "$here/${MODULE[$t]}" && find . -name '*.go' -print | LC_ALL=C sort | xargs -r sha256sum
    } | sha256sum | cut -c1-16
}

# Rename a finished temporary directory into place: rename(2) is atomic, so no run ever sees a half-made
# directory. When a concurrent run got there first, its copy (same key) is as good as ours.
publish() { # tmp dest
    mv -T "$1" "$2" 2>/dev/null || [ -d "$2" ] || die "cannot rename $1 to $2"
    rm -rf "$1"
    tmp=
}

new_tmp() { # name
    tmp="$(mktemp -d "$root/.tmp-$1.XXXXXX")"
    chmod 0755 "$tmp"
}

build_one() { # tool
    local t="$1" dir="$root/$1-${KEY[$1]}" start e
    if [ -d "$dir" ]; then
        TIMES[$t]=cached
        log "$t is cached in $dir"
        return 0
    fi
    start=$(date +%s)
    log "building $t into $dir"
    new_tmp "$t"
    (cd "$here/${MODULE[$t]}"; "build_${t//-/_}")
    for e in ${EXES[$t]}; do [ -x "$tmp/$e" ] || die "building $t did not make $e"; done
    publish "$tmp" "$dir"
    TIMES[$t]="$(( $(date +%s) - start ))s"
    log "built $t in ${TIMES[$t]}"
}

# The printed directory: symlinks into every tool's directory. Its name covers every tool's key, so its
# contents never change and it is only made when missing; a link to a tool not built yet dangles until it is.
make_bin() {
    local t e
    [ -d "$bin" ] && return 0
    new_tmp bin
    for t in "${ALL_TOOLS[@]}"; do
        for e in ${EXES[$t]}; do ln -s "../$t-${KEY[$t]}/$e" "$tmp/$e"; done
    done
    publish "$tmp" "$bin"
}

tool_of() { # name: the tool of that name or making an executable of that name
    local t e
    for t in "${ALL_TOOLS[@]}"; do
        for e in "$t" ${EXES[$t]}; do [ "$e" != "$1" ] || { echo "$t"; return 0; }; done
    done
    die "unknown tool '$1' (known: ${ALL_TOOLS[*]} and their executables)"
}

case "${1:-}" in
    sync)
        shift
        for t in "${@:-pulumi etcd kube provider controllers}"; do
            for u in $t; do "sync_${u/kubernetes-/}"; done
        done
        log "sync: done; review and commit tools/*/go.mod tools/*/go.sum"
        exit 0 ;;
esac

root="${GPUFLEET_TOOLS:-$HOME/.cache/gpufleet-tools}"
[[ "$root" = /* ]] || root="$PWD/$root" # the recipes run in other directories
go_version="$("$GO" version)"
declare -A KEY TIMES
for t in "${ALL_TOOLS[@]}"; do KEY[$t]="$(tool_key "$t")"; done
bin="$root/bin-$(for t in "${ALL_TOOLS[@]}"; do echo "$t=${KEY[$t]}"; done | sha256sum | cut -c1-16)"

case "${1:-}" in
    --print-bin) echo "$bin"; exit 0 ;;
    --print-keys)
        for t in "${ALL_TOOLS[@]}"; do printf '%-24s %s\n' "$t" "$root/$t-${KEY[$t]}"; done
        printf '%-24s %s\n' bin "$bin"
        exit 0 ;;
esac

tools=()
for a in "$@"; do
    t="$(tool_of "$a")"
    tools+=("$t")
done
[ ${#tools[@]} -gt 0 ] || tools=("${ALL_TOOLS[@]}")

check_pins
mkdir -p "$root"
tmp=
trap '[ -z "$tmp" ] || rm -rf -- "$tmp"' EXIT
# One build at a time per cache: a second run (CI starts one before the tests start theirs) waits here, then finds
# what the first built cached.
exec 9>"$root/.build.lock"
flock 9
# No DWARF from the compiler (-w drops it from the executables anyway): less to compile, the same programs, so the
# tool keys do not cover it.
gobuild=(nice -n "$NICE" "$GO" build -trimpath -gcflags=all=-dwarf=false)
total=$(date +%s)
make_bin # first: its links resolve as each tool is published, so a caller can use a tool built before the others
for t in "${tools[@]}"; do build_one "$t"; done
summary=
for t in "${ALL_TOOLS[@]}"; do
    if [ -z "${TIMES[$t]:-}" ]; then # not requested this time
        if [ -d "$root/$t-${KEY[$t]}" ]; then TIMES[$t]=cached; else TIMES[$t]="not built"; fi
    fi
    summary+="${summary:+, }$t ${TIMES[$t]}"
done
log "times: $summary; total $(( $(date +%s) - total ))s"
log "bin: $bin"
echo "$bin"
