"""A small Kubernetes API client on the standard library (urllib, ssl) and a kubeconfig.

Enough for gpufleet's live checks: JSON requests, client-certificate or bearer-token auth,
impersonation headers and server-side dry-run. Bad kubeconfigs raise UsageError (exit 2).
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml

from .targets import UsageError


MERGE_PATCH = "application/merge-patch+json"

@dataclass
class Response:
    status: int
    body: dict

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        return str(self.body.get("message", "")) if isinstance(self.body, dict) else ""


@dataclass
class Impersonate:
    user: str
    groups: tuple[str, ...] = ()


def _named(items: list, name: str, what: str, path: Path) -> dict:
    for item in items or []:
        if item.get("name") == name:
            return item.get(what) or {}
    raise UsageError(f"--kubeconfig: {path}: no {what} named '{name}'")


def _material(entry: dict, key: str, base: Path) -> Optional[bytes]:
    """The bytes of `<key>-data` (base64) or of the file `<key>` (relative to the kubeconfig)."""
    if entry.get(f"{key}-data"):
        return base64.b64decode(entry[f"{key}-data"])
    if entry.get(key):
        file = Path(entry[key]).expanduser()
        return (file if file.is_absolute() else base / file).read_bytes()
    return None


@dataclass
class KubeClient:
    server: str
    context: ssl.SSLContext
    token: Optional[str] = None
    timeout: float = 15.0
    user_name: str = field(default="")

    @classmethod
    def from_kubeconfig(cls, path: str, context_name: Optional[str] = None) -> "KubeClient":
        file = Path(path)
        try:
            config = yaml.safe_load(file.read_text())
        except (OSError, yaml.YAMLError) as error:
            raise UsageError(f"--kubeconfig: cannot read {path}: {error}") from None
        if not isinstance(config, dict):
            raise UsageError(f"--kubeconfig: {path} is not a kubeconfig")
        context_name = context_name or config.get("current-context")
        if not context_name:
            raise UsageError(f"--kubeconfig: {path} has no current-context (use --context)")
        context = _named(config.get("contexts"), context_name, "context", file)
        cluster = _named(config.get("clusters"), context.get("cluster", ""), "cluster", file)
        user = _named(config.get("users"), context.get("user", ""), "user", file)
        server = cluster.get("server")
        if not server:
            raise UsageError(f"--kubeconfig: cluster of context '{context_name}' has no server")
        try:
            ssl_context = ssl.create_default_context()
            ca = _material(cluster, "certificate-authority", file.parent)
            if cluster.get("insecure-skip-tls-verify"):
                ssl_context.check_hostname = False
                ssl_context.verify_mode = ssl.CERT_NONE
            elif ca is not None:
                ssl_context.load_verify_locations(cadata=ca.decode())
            cert = _material(user, "client-certificate", file.parent)
            key = _material(user, "client-key", file.parent)
            if cert is not None and key is not None:
                _load_cert_chain(ssl_context, cert, key)
        except (OSError, ssl.SSLError, ValueError) as error:
            raise UsageError(f"--kubeconfig: bad TLS material in {path}: {error}") from None
        token = user.get("token")
        if not token and user.get("tokenFile"):
            token = Path(user["tokenFile"]).read_text().strip()
        return cls(server.rstrip("/"), ssl_context, token, user_name=context.get("user", ""))

    def request(
        self,
        method: str,
        path: str,
        body: Optional[dict] = None,
        *,
        impersonate: Optional[Impersonate] = None,
        dry_run: bool = False,
        query: Optional[dict] = None,
        content_type: str = "application/json",
    ) -> Response:
        params = dict(query or {})
        if dry_run:
            params["dryRun"] = "All"
        url = self.server + path + (("?" + urllib.parse.urlencode(params)) if params else "")
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        if impersonate is not None:
            request.add_header("Impersonate-User", impersonate.user)  # groups: see _HTTPSHandler
        try:
            with _opener(self.context, impersonate).open(request, timeout=self.timeout) as reply:
                return Response(reply.status, _json(reply.read()))
        except urllib.error.HTTPError as error:
            return Response(error.code, _json(error.read()))
        except (urllib.error.URLError, OSError) as error:
            raise UsageError(f"cannot reach the API server {self.server}: {getattr(error, 'reason', error)}") from None

    def get(self, path: str, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: dict, **kwargs) -> Response:
        return self.request("POST", path, body, **kwargs)

    def merge_patch(self, path: str, body: dict, **kwargs) -> Response:
        """A JSON merge patch (RFC 7386): maps merge, lists and scalars replace, null deletes."""
        return self.request("PATCH", path, body, content_type=MERGE_PATCH, **kwargs)


def _json(raw: bytes) -> dict:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {"message": raw.decode(errors="replace")[:500]}
    return value if isinstance(value, dict) else {"items": value}


def _load_cert_chain(context: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    """ssl wants files: write both to a private temporary directory for the duration of the load."""
    with tempfile.TemporaryDirectory(prefix="gpufleet-kube-") as tmp:
        cert_file, key_file = os.path.join(tmp, "client.crt"), os.path.join(tmp, "client.key")
        for name, content in ((cert_file, cert), (key_file, key)):
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
        context.load_cert_chain(cert_file, key_file)


def _opener(context: ssl.SSLContext, impersonate: Optional[Impersonate]):
    return urllib.request.build_opener(_HTTPSHandler(context, impersonate))


class _HTTPSHandler(urllib.request.HTTPSHandler):
    """HTTPS with the kubeconfig's TLS context; repeated Impersonate-Group headers when impersonating."""

    def __init__(self, context: ssl.SSLContext, impersonate: Optional[Impersonate]):
        super().__init__(context=context)
        self._context = context
        self._impersonate = impersonate

    def https_open(self, req):
        import http.client

        groups = self._impersonate.groups if self._impersonate else ()
        context = self._context

        class Connection(http.client.HTTPSConnection):
            def __init__(self, host, **kwargs):
                kwargs["context"] = context
                super().__init__(host, **kwargs)

            def endheaders(self, *args, **kwargs):
                for group in groups:
                    self.putheader("Impersonate-Group", group)
                return super().endheaders(*args, **kwargs)

        return self.do_open(Connection, req)
