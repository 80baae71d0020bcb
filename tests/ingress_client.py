"""Posting signed webhooks to a running ingress, as a provider would (GitHub's scheme)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import orjson

from ingress.providers import REGISTRY


def post_signed_github(port: int, secret: str, delivery: str, source: str = "gh") -> int:
    """POST a GitHub ``issues`` webhook signed with ``secret``; the answer's status."""
    body = orjson.dumps({"action": "opened", "delivery": delivery})
    headers = REGISTRY["github"].sign(body, secret, time.time(), event="issues", delivery=delivery)
    return post_webhook(f"http://127.0.0.1:{port}/webhooks/{source}", body, headers, 10)


def post_webhook(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST ``body`` with ``headers`` to ``url``; the answer's status, an error's included."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
