"""The middleware chain under ASGI, where its hooks run on the event loop (builder/core/middleware.py)
and static files are served without making the chain synchronous (builder/core/static_files.py)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.test import override_settings

from tests.factories import make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _client(app: ASGIHandler | None = None) -> httpx.AsyncClient:
    handler: Any = app or ASGIHandler()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=handler), base_url="http://testserver")


async def test_admin_login_over_asgi_saves_the_session_and_checks_csrf() -> None:
    user = await sync_to_async(make_user)(is_staff=True, is_superuser=True, password="a-long-password-1")
    async with _client() as client:
        page = await client.get("/admin/login/")
        assert page.status_code == 200
        assert page.headers["x-frame-options"] == "DENY"  # XFrameOptions ran
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token is not None
        # Without the CSRF token the form is refused (process_view ran on the loop).
        refused = await client.post("/admin/login/", data={"username": user.username, "password": "x"})
        assert refused.status_code == 403
        login = await client.post(
            "/admin/login/?next=/admin/",
            data={
                "csrfmiddlewaretoken": token.group(1),
                "username": user.username,
                "password": "a-long-password-1",
                "next": "/admin/",
            },
        )
        assert login.status_code == 302, login.text[:500]
        assert "sessionid" in client.cookies  # the modified session was saved (in a thread)
        index = await client.get("/admin/")
    assert index.status_code == 200 and "/admin/logout/" in index.text


async def test_languages_follow_accept_language_over_asgi() -> None:
    async with _client() as client:
        response = await client.get("/api/v1/bots/not-a-bot/", headers={"Accept-Language": "zh-Hans"})
    assert response.status_code in (401, 403, 404)
    assert response.headers["content-language"] == "zh-hans"


@override_settings(WHITENOISE_USE_FINDERS=True, WHITENOISE_AUTOREFRESH=True)
async def test_static_files_are_served_and_unknown_ones_fall_through() -> None:
    async with _client(ASGIHandler()) as client:
        found = await client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css")
        missing = await client.get("/static/no/such/file.css")
    assert found.status_code == 200 and found.headers["content-type"].startswith("text/css")
    assert missing.status_code == 404
