"""The bearer keys of the service tests, and their Authorization headers."""

from __future__ import annotations

ADMIN_KEY = "admin-key-0123456789abcdef"
ASK_KEY = "ask-key-0123456789abcdef"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
AS_ASKER = {"Authorization": f"Bearer {ASK_KEY}"}
