"""A scripted petstore on 127.0.0.1: serves the spec files next to this module, an OAuth2 token
endpoint and the API the spec describes, and records every request so that tests assert what
the plugin really sent (path, query, headers, body).

Authentication is checked the way a real API would: ``api.require`` is ``"api_key"`` (a header
or query parameter must be ``API_KEY``), ``"bearer"`` (``BEARER``), ``"oauth2"``
(a token the token endpoint issued and did not revoke) or ``"none"``. The token endpoint takes
HTTP Basic or form client credentials ``CLIENT_ID``/``CLIENT_SECRET`` and issues ``token-1``,
``token-2``…; ``api.revoke(token)`` makes the API answer 401 to it (an expired token).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

SPECS = Path(__file__).parent
API_KEY = "pk-live-0123456789abcdef"
BEARER = "bt-live-0123456789abcdef"
CLIENT_ID = "agentloom-client"
CLIENT_SECRET = "cs-live-0123456789abcdef"


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]  # names lowercased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))


@dataclass
class FakePetstore:
    require: str = "api_key"
    requests: list[Recorded] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    token_lifetime_s: int = 3600
    pets: dict[int, dict[str, Any]] = field(
        default_factory=lambda: {
            10: {"id": 10, "name": "doggie", "photoUrls": [], "status": "available"},
            11: {"id": 11, "name": "kitty", "photoUrls": [], "status": "sold"},
        }
    )

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                recorded = Recorded(
                    method=self.command,
                    path=unquote(parts.path),
                    query=parse_qsl(parts.query, keep_blank_values=True),
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=body,
                )
                fake.requests.append(recorded)
                status, payload, content_type = fake.answer(recorded)
                content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def revoke(self, token: str) -> None:
        self.revoked.add(token)

    def api_calls(self) -> list[Recorded]:
        return [request for request in self.requests if request.path.startswith("/api/v3/")]

    # --- the server's behaviour ---------------------------------------------------------------
    def answer(self, request: Recorded) -> tuple[int, Any, str]:
        if request.method == "GET" and request.path.startswith("/specs/"):
            path = SPECS / request.path.removeprefix("/specs/")
            if not path.is_file():
                return 404, {"message": "no such spec"}, "application/json"
            return 200, path.read_bytes(), "application/yaml" if path.suffix == ".yaml" else "application/json"
        if request.path == "/oauth/token":
            return self._token(request)
        if not request.path.startswith("/api/v3/"):
            return 404, {"message": "not found"}, "application/json"
        if request.path != "/api/v3/user/login" and not self._authorised(request):
            return 401, {"code": 401, "message": "not authorised"}, "application/json"
        return self._api(request, request.path.removeprefix("/api/v3"))

    def _authorised(self, request: Recorded) -> bool:
        if self.require == "api_key":  # in whichever header or query parameter the spec names
            return API_KEY in request.headers.values() or API_KEY in [value for _name, value in request.query]
        if self.require == "bearer":
            return request.headers.get("authorization") == f"Bearer {BEARER}"
        if self.require == "oauth2":
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            return token in self.issued and token not in self.revoked
        return True

    def _token(self, request: Recorded) -> tuple[int, Any, str]:
        form = request.form()
        basic = request.headers.get("authorization", "")
        if basic.startswith("Basic "):
            client_id, _, secret = base64.b64decode(basic.removeprefix("Basic ")).decode().partition(":")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}, "application/json"
        if (client_id, secret) != (CLIENT_ID, CLIENT_SECRET):
            return 401, {"error": "invalid_client", "error_description": "Unknown client."}, "application/json"
        token = f"token-{len(self.issued) + 1}"
        self.issued.append(token)
        body = {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime_s}
        return 200, body, "application/json"

    def _api(self, request: Recorded, path: str) -> tuple[int, Any, str]:
        query = dict(request.query)
        if pet := re.fullmatch(r"/pet/(\d+)", path):
            pet_id = int(pet.group(1))
            if pet_id not in self.pets:
                return 404, {"code": 1, "type": "error", "message": "Pet not found"}, "application/json"
            if request.method == "DELETE":
                del self.pets[pet_id]
                return 200, b"", "text/plain"
            if request.method == "POST":
                self.pets[pet_id] = {**self.pets[pet_id], **{k: v for k, v in query.items() if k in ("name", "status")}}
            return 200, self.pets[pet_id], "application/json"
        if path == "/pet" and request.method in ("POST", "PUT"):
            pet = request.json()
            pet.setdefault("id", max(self.pets) + 1)
            self.pets[pet["id"]] = pet
            return 200, pet, "application/json"
        if path == "/pet/findByStatus":
            return 200, [pet for pet in self.pets.values() if pet["status"] == query.get("status")], "application/json"
        if path == "/pet/findByTags":
            tags = [value for name, value in request.query if name == "tags"]
            return (
                200,
                [{"id": 1, "name": "tagged", "photoUrls": [], "tags": [{"name": t} for t in tags]}],
                "application/json",
            )
        if forecast := re.fullmatch(r"/forecast/([^/]+)", path):
            return (
                200,
                {"city": forecast.group(1), "summary": "Sunny.", "units": query.get("units")},
                "application/json",
            )
        if path == "/stations":
            return 201, {"registered": request.form()}, "application/json"
        if path == "/store/inventory":
            return 200, {"available": 1, "sold": 1}, "application/json"
        if path == "/user/login":
            return 200, f"logged in user session:{query.get('username')}".encode(), "text/plain"
        return 404, {"message": "not found"}, "application/json"
