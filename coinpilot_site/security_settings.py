"""Security settings computed from the environment or the installed packages (imported by the
settings module: no Django imports here)."""

import base64
import hashlib
import importlib.util
import re
from pathlib import Path

INLINE_SCRIPT = re.compile(r"<script[^>]*>(.*?)</script>", re.DOTALL)


def client_address_settings(trusted_proxies: int) -> dict:
    """django-axes' client address settings (django-ipware) for this many trusted reverse proxies.

    Each proxy appends the address it was connected from to X-Forwarded-For, so the client is the
    n-th entry from the right; entries left of it were written by the client and are ignored. The
    last proxy is REMOTE_ADDR itself, so ipware's count (proxies listed in the header) is one less.
    No other header is read: a client could set it.
    """
    if trusted_proxies <= 0:
        return {"AXES_IPWARE_META_PRECEDENCE_ORDER": ("REMOTE_ADDR",), "AXES_IPWARE_PROXY_COUNT": None}
    return {
        "AXES_IPWARE_META_PRECEDENCE_ORDER": ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"),
        "AXES_IPWARE_PROXY_COUNT": trusted_proxies - 1,
    }


def inline_script_hashes(package: str, folder: str) -> list[str]:
    """CSP source expressions ('sha256-...') of the constant inline scripts in a package's templates.

    django-rq's queue pages (staff only) carry one small inline script (the admin's action
    checkboxes): allowing exactly that script by its hash keeps 'unsafe-inline' out of the policy,
    and an upgrade that changes the script changes the hash with it.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return []
    hashes = set()
    for template in sorted((Path(spec.origin).parent / folder).glob("*.html")):
        for body in INLINE_SCRIPT.findall(template.read_text(encoding="utf-8")):
            if body.strip() and "{%" not in body and "{{" not in body:  # rendered exactly as written
                digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
                hashes.add(f"'sha256-{digest}'")
    return sorted(hashes)
