"""The Kueue manager (sigs.k8s.io/kueue, built by tools/build.sh) as a local process against a control plane,
such as the one scripts/local-cluster starts. Import as `from kueue_manager import ...`.

    with KueueManager(kubeconfig, kueue_binary(bin_dir), context="gpufleet-local",
                      config={"fairSharing": {"preemptionStrategies": ["LessThanOrEqualToFinalShare"]}}) as kueue:
        kueue.client.post(...)  # ClusterQueues, LocalQueues, Jobs: the manager's webhooks are live

start() applies the vendored CRDs (components/kubernetes/vendor/kueue/crds), creates the kueue-system namespace,
makes a CA and a serving certificate for 127.0.0.1, writes the manager's Configuration, starts `kueue`, waits
for /readyz, then registers the webhooks at https://127.0.0.1:<port> and waits until the API server calls them.
stop() deletes the webhook configurations first (every webhook fails closed: a stopped manager would block
every Job in the cluster), then ends the process. The CRDs and the namespace stay (a next start reuses them).

Kueue objects with finalizers (ClusterQueues, ResourceFlavors, Workloads) only go away while the manager runs:
delete them before stop().

Paths below are relative to the module root of sigs.k8s.io/kueue@v0.17.0.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Optional

import yaml
from fleet_fixtures import ROOT

from components.kubernetes.kueue import manager_config as program_manager_config
from components.kubernetes.kueue import webhooks as program_webhooks
from gpufleet.kube import KubeClient

CRD_DIR = ROOT / "components" / "kubernetes" / "vendor" / "kueue" / "crds"
NAMESPACE = "kueue-system"  # the Configuration's default namespace (apis/config/v1beta2/defaults.go)
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
FIELD_MANAGER = "gpufleet-test-kueue"
APPLY_PATCH = "application/apply-patch+yaml"
CRD_API = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WEBHOOK_API = "/apis/admissionregistration.k8s.io/v1"
# cmd/kueue/main.go: with internalCertManagement off, the manager always loads the metrics server's pair from
# this directory and exits when it cannot (also with metrics.bindAddress "0"); no flag or config field moves it.
METRICS_CERT_DIR = Path("/etc/kueue/metrics/certs")

# The wait of a Job's pod on a simulated node before kwok completes it (kwok's pod/general/pod-complete Stage,
# tools/build.sh): both annotations are needed for more than 5 s (pkg/utils/lifecycle/lifecycle.go Delay).
RUN_FOR = {"pod-complete.stage.kwok.x-k8s.io/delay": "1h", "pod-complete.stage.kwok.x-k8s.io/jitter-delay": "1h"}


def condition_true(obj: dict, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


class KueueManagerError(RuntimeError):
    """The manager did not start (or a step before it failed); the message ends with the log's tail."""


def kueue_binary(bin_dir: Optional[Path] = None) -> Path:
    """The kueue executable in tools/build.sh's bin directory (bin_dir, else `tools/build.sh --print-bin`,
    which builds nothing). The integration tests' bin directory is local_engine.env["GPUFLEET_KUBE_BIN"]."""
    if bin_dir is None:
        printed = subprocess.run([str(ROOT / "tools" / "build.sh"), "--print-bin"], capture_output=True,
                                 text=True, check=True)
        bin_dir = Path(printed.stdout.strip().splitlines()[-1])
    binary = Path(bin_dir) / "kueue"
    if not binary.is_file():
        raise KueueManagerError(f"{binary} is missing: run tools/build.sh kueue")
    return binary


def free_port() -> int:
    """A loopback port free now (the kernel's pick; another process could take it before the manager does)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def merge(base: dict, extra: dict) -> dict:
    """base with extra merged in: maps merge key by key, anything else (lists too) replaces."""
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def check(reply, what: str, allowed: tuple[int, ...] = ()) -> None:
    if not reply.ok and reply.status not in allowed:
        raise KueueManagerError(f"{what}: HTTP {reply.status}: {reply.message or reply.body}")


def apply_crds(client: KubeClient, crd_dir: Path = CRD_DIR, timeout: float = 60.0) -> list[str]:
    """Server-side apply every CRD file (the Workload CRD is 1.4 MB: client-side apply's annotation would not
    hold it), then wait until each is Established. Returns their names."""
    names = []
    for path in sorted(crd_dir.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        name = crd["metadata"]["name"]
        reply = client.request("PATCH", f"{CRD_API}/{name}", crd, content_type=APPLY_PATCH,
                               query={"fieldManager": FIELD_MANAGER, "force": "true"})
        check(reply, f"applying the CRD {name}")
        names.append(name)
    deadline = time.monotonic() + timeout
    for name in names:
        while not established(client.get(f"{CRD_API}/{name}").body):
            if time.monotonic() > deadline:
                raise KueueManagerError(f"the CRD {name} is not Established after {timeout:.0f} s")
            time.sleep(0.2)
    return names


def established(crd: dict) -> bool:
    return any(c.get("type") == "Established" and c.get("status") == "True"
               for c in (crd.get("status") or {}).get("conditions") or [])


def ensure_namespace(client: KubeClient, name: str = NAMESPACE) -> None:
    reply = client.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    check(reply, f"creating the namespace {name}", allowed=(409,))


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise KueueManagerError(f"openssl {args[0]} failed: {done.stderr.strip()}")


def write_certs(cert_dir: Path) -> bytes:
    """A throwaway CA and a serving certificate for IP 127.0.0.1 (the API server checks the webhook URL's host
    against the SANs), as tls.crt/tls.key in cert_dir, the names controller-runtime's webhook server reads.
    Returns the CA's PEM, the webhooks' caBundle. openssl as in scripts/local-cluster."""
    cert_dir.mkdir(parents=True, exist_ok=True)
    cert_dir.chmod(0o700)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "7", "-keyout", "ca.key", "-out", "ca.crt",
             "-subj", "/CN=gpufleet-test-kueue-ca", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature", cwd=cert_dir)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tls.key", "-out", "tls.csr",
             "-subj", "/CN=127.0.0.1", cwd=cert_dir)
    (cert_dir / "tls.ext").write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                                      "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "7",
             "-extfile", "tls.ext", "-out", "tls.crt", cwd=cert_dir)
    return (cert_dir / "ca.crt").read_bytes()


def ensure_metrics_certs(cert_dir: Path, target: Path = METRICS_CERT_DIR) -> None:
    """A key pair where the manager insists on one (METRICS_CERT_DIR): a pair already there is kept (only its
    loading matters, the metrics server is off), else cert_dir's is copied in. Needs root for /etc."""
    if (target / "tls.crt").is_file() and (target / "tls.key").is_file():
        return
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in ("tls.key", "tls.crt"):  # each renamed into place: a concurrent start never reads half a file
            partial = target / f".{name}.{os.getpid()}"
            shutil.copyfile(cert_dir / name, partial)
            partial.chmod(0o600)
            os.replace(partial, target / name)
    except OSError as error:
        raise KueueManagerError(f"the manager needs tls.crt and tls.key in {target} (cmd/kueue/main.go): {error}")


def manager_config(webhook_port: int, health_port: int, cert_dir: Path, extra: Optional[dict] = None) -> dict:
    """The program's Configuration (components.kubernetes.kueue.manager_config: frameworks, fair sharing, feature
    gates) with what a local process cannot have replaced; extra is merged in (merge()). The file is parsed
    strictly: an unknown field stops the manager (pkg/config/config.go)."""
    local = {
        # Out of a cluster, leader election needs a namespace controller-runtime cannot guess.
        "leaderElection": {"leaderElect": False},
        # The rotator writes its certificates into a Secret for a kubelet to mount (pkg/util/cert/cert.go),
        # for a Service's DNS name: nothing a local process can serve with. Ours are in certDir.
        "internalCertManagement": {"enable": False},
        "webhook": {"host": "127.0.0.1", "port": webhook_port, "certDir": str(cert_dir)},
        "health": {"healthProbeBindAddress": f"127.0.0.1:{health_port}"},
        "metrics": {"bindAddress": "0"},  # off (it would need TokenReview and SubjectAccessReview rights)
    }
    config = {k: v for k, v in program_manager_config().items() if k not in local}
    return merge({**config, **local}, extra or {})


def webhook_configurations(name: str, port: int, ca_pem: bytes) -> tuple[dict, dict]:
    """The MutatingWebhookConfiguration and ValidatingWebhookConfiguration `name` with the webhooks the program
    registers (components.kubernetes.kueue.webhooks: Kueue's own objects and batch/v1 Jobs), each at
    https://127.0.0.1:<port><path> instead of the manager's Service, as Kueue's own integration tests do through
    envtest (test/integration/framework/framework.go)."""
    bundle = base64.b64encode(ca_pem).decode()

    def hooks(kind: str) -> list[dict]:
        return [
            {**hook, "clientConfig": {"url": f"https://127.0.0.1:{port}{hook['clientConfig']['service']['path']}",
                                      "caBundle": bundle}}
            for hook in program_webhooks(kind)
        ]

    meta = {"name": name, "labels": {"app.kubernetes.io/managed-by": FIELD_MANAGER}}
    return ({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
             "metadata": meta, "webhooks": hooks("MutatingWebhookConfiguration")},
            {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
             "metadata": copy.deepcopy(meta), "webhooks": hooks("ValidatingWebhookConfiguration")})


class KueueManager:
    """One `kueue` process and its webhook configurations. start() returns self; stop() is idempotent.

    kubeconfig/context: the control plane (the manager gets a copy whose current-context is `context`).
    binary: the kueue executable (kueue_binary()). config: merged into manager_config(). args: more flags
    (e.g. "--zap-log-level=4"). workdir: config, certs and manager.log (a new temporary directory when None;
    kept after stop, for the log). name: of the webhook configurations (unique per manager by default)."""

    def __init__(self, kubeconfig: Path, binary: Path, *, context: Optional[str] = None,
                 config: Optional[dict] = None, args: tuple[str, ...] = (), workdir: Optional[Path] = None,
                 name: Optional[str] = None):
        self.kubeconfig = Path(kubeconfig)
        self.context = context
        self.binary = Path(binary)
        self.extra_config = config or {}
        self.args = tuple(args)
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="gpufleet-kueue-"))
        self.name = name or f"gpufleet-test-kueue-{uuid.uuid4().hex[:8]}"
        self.client = KubeClient.from_kubeconfig(str(self.kubeconfig), context)
        self.log_path = self.workdir / "manager.log"
        self.config_path = self.workdir / "config.yaml"
        self.cert_dir = self.workdir / "certs"
        self.webhook_port = 0
        self.health_port = 0
        self.process: Optional[subprocess.Popen] = None

    def __enter__(self) -> "KueueManager":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 180.0) -> "KueueManager":
        """Everything the manager needs, the process, and its webhooks; raises KueueManagerError (with the log's
        tail) and leaves nothing running when the manager does not get ready within timeout seconds."""
        try:
            self._start(time.monotonic() + timeout)
        except BaseException:
            with contextlib.suppress(Exception):  # the error to report is the first one
                self.stop()
            raise
        return self

    def _start(self, deadline: float) -> None:
        apply_crds(self.client)
        ensure_namespace(self.client)
        ca_pem = write_certs(self.cert_dir)
        ensure_metrics_certs(self.cert_dir)
        self.webhook_port, self.health_port = free_port(), free_port()
        config = manager_config(self.webhook_port, self.health_port, self.cert_dir, self.extra_config)
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        kubeconfig = self._kubeconfig()
        command = [str(self.binary), f"--config={self.config_path}", f"--kubeconfig={kubeconfig}",
                   "--zap-log-level=2", *self.args]  # the Deployment's level (config/components/manager)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            cwd=self.workdir, start_new_session=True)
        self._wait("/readyz to answer 200", self._ready, deadline)
        # Registered once the manager serves (a manager that never starts leaves no webhook failing every Job),
        # then waited for: the API server loads webhook configurations asynchronously.
        mutating, validating = webhook_configurations(self.name, self.webhook_port, ca_pem)
        check(self.client.post(f"{WEBHOOK_API}/mutatingwebhookconfigurations", mutating),
              "registering the mutating webhooks")
        check(self.client.post(f"{WEBHOOK_API}/validatingwebhookconfigurations", validating),
              "registering the validating webhooks")
        self._wait("the API server to call the webhooks", self._webhooks_called, deadline)

    def _kubeconfig(self) -> Path:
        """The kubeconfig with current-context set: the manager's --kubeconfig has no context flag."""
        if self.context is None:
            return self.kubeconfig
        document = yaml.safe_load(self.kubeconfig.read_text())
        document["current-context"] = self.context
        path = self.workdir / "kubeconfig"
        path.touch(mode=0o600)
        path.write_text(yaml.safe_dump(document))
        return path

    def _wait(self, what: str, done, deadline: float) -> None:
        while not done():
            if not self.running:
                raise KueueManagerError(f"kueue exited ({self.process.returncode}) before {what}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise KueueManagerError(f"timed out waiting for {what}:\n{self.log_tail()}")
            time.sleep(0.5)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/readyz", timeout=2) as reply:
                return reply.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _webhooks_called(self) -> bool:
        """Both configurations are in effect: a dry-run Job with the queue label comes back suspended (mjob),
        and a dry-run ClusterQueue lending more than its quota is denied (vclusterqueue). Dry runs call webhooks
        whose sideEffects are None and store nothing."""
        job = {"apiVersion": "batch/v1", "kind": "Job",
               "metadata": {"generateName": "kueue-probe-", "labels": {QUEUE_LABEL: "kueue-probe"}},
               "spec": {"suspend": False, "template": {"spec": {"restartPolicy": "Never",
                        "containers": [{"name": "probe", "image": "probe"}]}}}}
        reply = self.client.post("/apis/batch/v1/namespaces/default/jobs", job, dry_run=True)
        if not (reply.ok and reply.body.get("spec", {}).get("suspend") is True):
            return False
        queue = cluster_queue("kueue-probe", "kueue-probe", {"cpu": "1"}, cohort="kueue-probe", lending={"cpu": "2"})
        reply = self.client.post("/apis/kueue.x-k8s.io/v1beta2/clusterqueues", queue, dry_run=True)
        return "vclusterqueue.kb.io" in reply.message

    def log_tail(self, lines: int = 80) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 30.0) -> None:
        """Delete the webhook configurations, then SIGTERM the manager (SIGKILL after timeout seconds); the
        process ends also when the deletion fails (which then raises)."""
        try:
            for kind in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
                reply = self.client.request("DELETE", f"{WEBHOOK_API}/{kind}/{self.name}")
                check(reply, f"deleting the {kind} {self.name}", allowed=(404,))
        finally:
            if self.process is not None and self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()


def cluster_queue(name: str, flavor: str, quota: dict[str, str], *, cohort: Optional[str] = None,
                  lending: Optional[dict[str, str]] = None, namespace_selector: Optional[dict] = None) -> dict:
    """A v1beta2 ClusterQueue with one resource group: `quota` (resource: nominalQuota) of one flavor, lendingLimit
    per resource from `lending`. namespaceSelector defaults to {} (all namespaces; a missing one matches none,
    apis/kueue/v1beta2/clusterqueue_types.go)."""
    resources = [{"name": resource, "nominalQuota": amount,
                  **({"lendingLimit": lending[resource]} if lending and resource in lending else {})}
                 for resource, amount in quota.items()]
    spec = {"namespaceSelector": namespace_selector if namespace_selector is not None else {},
            "resourceGroups": [{"coveredResources": list(quota), "flavors": [{"name": flavor, "resources": resources}]}]}
    if cohort:
        spec["cohortName"] = cohort
    return {"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "ClusterQueue", "metadata": {"name": name}, "spec": spec}
