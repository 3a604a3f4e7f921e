"""Serving beyond this machine without a password is a choice the user states (``--no-auth``).

Bound to 0.0.0.0 or a LAN address, the page lets anyone who can reach the port ask questions,
upload clips, edit the knowledge base, add example clips, switch the model and run setup from
server folders. Without ``--auth`` that is refused with one line saying so; ``--no-auth``
accepts it, and the line is logged as a warning instead.
"""

import ipaddress
import socket

from core.settings import Settings


def is_loopback(host: str) -> bool:
    """True for names and addresses that only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def exposure_line(host: str, settings: Settings) -> str:
    roots = ", ".join(str(root) for root in settings.readable_source_roots)
    return (
        f"--host {host} without --auth lets anyone who can reach this port ask questions, upload clips, edit the "
        f"knowledge base in {settings.kb_dir}, add example clips, switch the model and run setup from {roots}"
    )


def exposure_refusal(host: str, has_auth: bool, no_auth: bool, settings: Settings) -> str | None:
    """The refusal for serving ``host`` without a password, or None when it is safe or explicitly accepted."""
    if has_auth or no_auth or is_loopback(host):
        return None
    return exposure_line(host, settings) + ". Add --auth user:password, or --no-auth to accept that."
