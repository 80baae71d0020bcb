"""The typed keys of what the admin application holds (built in :func:`admin.app.create_app`)."""

from __future__ import annotations

from aiohttp import web
from psycopg_pool import AsyncConnectionPool

from admin.auth import TokenSigner
from admin.ingress_counts import IngressCounts
from admin.ratelimit import ClientLimiter
from hookline.settings import Settings

POOL = web.AppKey("pool", AsyncConnectionPool)
SIGNER = web.AppKey("signer", TokenSigner)
SETTINGS = web.AppKey("settings", Settings)
LIMITER = web.AppKey("limiter", ClientLimiter)
INGRESS_COUNTS = web.AppKey("ingress_counts", IngressCounts)
