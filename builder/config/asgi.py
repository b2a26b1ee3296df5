"""The ASGI application: Django for HTTP, Channels for websockets.

Run it with ``uvicorn builder.config.asgi:application``.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "builder.config.settings")

# Set up Django (apps, models) before anything below imports models through the auth middleware
# or the websocket consumers.
django_asgi_app = get_asgi_application()

import langchain_openai  # noqa: E402, F401
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import get_resolver  # noqa: E402

# Import the run machinery now, not inside the first chat: importing langchain_openai takes about
# a second, and doing it on the event loop would stall every stream open at that moment.
import builder.conversations.executor  # noqa: E402, F401
from builder.core.long_lived import freeze_loaded_objects  # noqa: E402
from builder.pluginhost.node_types import ensure_loaded as load_plugins  # noqa: E402
from builder.realtime.origin import BrowserOriginValidator  # noqa: E402
from builder.realtime.routing import websocket_urlpatterns  # noqa: E402

# Load the plugins as the server starts: their node types must be registered before the first
# graph is validated or run here, and loading them later would run plugin code on the event loop.
load_plugins()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Browsers send cookies with cross-site websocket handshakes: a browser's origin must be one
        # ALLOWED_HOSTS names; then the session (or an API key) authenticates like any view.
        "websocket": BrowserOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

# The URLconf (every app's views) now too, not on the event loop in the first request, and then
# what is loaded stays out of the garbage collector's full collections (builder/core/long_lived.py).
get_resolver().url_patterns  # noqa: B018  (a lazy property: reading it imports them)
freeze_loaded_objects()
