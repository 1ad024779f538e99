"""Where a webhook may be sent: never to this machine or a private network (SSRF).

A URL is checked when a lead registers it (with a sentence saying why it is refused) and again
at every send, after resolving its host name: a name that resolved to a public address last
week may resolve to 127.0.0.1 today. The sender then connects to the very address checked here
(`Target.address`), so a second, different DNS answer cannot slip in between.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from .conf import conf


class UnsafeURL(ValueError):
    """A URL Relay will not deliver to; str() is the sentence to show."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with the query string
    address: str  # the checked IP address to connect to


def _resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (tests replace this to avoid real DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _kind_of_private(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why this address is not the public internet, or None if it is."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return _("a loopback address")
    if ip.is_link_local:
        return _("a link-local address")
    if ip.is_multicast:
        return _("a multicast address")
    if ip.is_unspecified:
        return _("an unspecified address")
    if ip.is_reserved:
        return _("a reserved address")
    if ip.is_private:
        return _("a private address")
    if not ip.is_global:
        return _("a reserved address")
    return None


def check_url(url: str) -> Target:
    """The target to connect to for `url`, or UnsafeURL saying why not."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise UnsafeURL(_("This is not a valid URL.")) from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL(_("Only http:// and https:// URLs can receive webhooks."))
    host = parts.hostname
    if not host:
        raise UnsafeURL(_("The URL has no host name."))
    if parts.username or parts.password:
        raise UnsafeURL(
            _(
                "Put no user name or password in the URL: "
                "the signature tells the receiver it is Relay."
            )
        )
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = _resolve(host, port)
    except (OSError, UnicodeError):
        raise UnsafeURL(
            _("The host name %(host)s could not be resolved.") % {"host": host}
        ) from None
    if not addresses:
        raise UnsafeURL(_("The host name %(host)s could not be resolved.") % {"host": host})
    allow_private = bool(conf("RELAY_WEBHOOKS_ALLOW_PRIVATE"))
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        kind = _kind_of_private(ip)
        if kind and not allow_private:
            raise UnsafeURL(
                _(
                    "%(host)s resolves to %(address)s, %(kind)s: webhooks are only sent to "
                    "public addresses."
                )
                % {"host": host, "address": address, "kind": kind}
            )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=parts.scheme, host=host, port=port, path=path, address=addresses[0])
