"""Which webhook URLs the server may call: public addresses, plus hosts an operator allows.

A webhook makes the server send a request on a client's behalf, so an open one is a way into the
network behind the firewall (SSRF: the cloud metadata endpoint, an admin UI on 127.0.0.1). By
default an URL whose host is, or resolves to, a loopback, private, link-local, multicast or
reserved address is refused; ``allow_hosts`` lets named hosts, IPs or CIDR ranges through, and
``only_listed`` refuses everything else, public addresses included. The check runs at submission
(a 400 naming ``webhook_url``) and again just before each delivery, since DNS can change between.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from server.jobs.errors import JobError

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], list[str]]


class WebhookRefused(JobError):
    code = "webhook_url_not_allowed"

    def __init__(self, message: str) -> None:
        super().__init__(message, "webhook_url")


def resolve_host(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]) for info in infos})


def _internal(ip: IpAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return not ip.is_global or ip.is_multicast


class WebhookPolicy:
    def __init__(self, allow_hosts: list[str] | None = None, only_listed: bool = False,
                 resolver: Resolver = resolve_host) -> None:
        self.only_listed = only_listed
        self.resolver = resolver
        self.names: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allow_hosts or []:
            try:
                self.networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                self.names.add(entry.strip().lower().rstrip("."))

    def _listed(self, ip: IpAddress) -> bool:
        return any(ip in net for net in self.networks)

    def check(self, url: str) -> None:
        """Raise WebhookRefused (message names the URL and why) unless ``url`` may be called."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
            _ = parts.port  # a non-numeric or out-of-range port raises ValueError here
        except ValueError as exc:
            raise WebhookRefused(f"webhook_url={url!r}: not a valid URL ({exc})") from exc
        if parts.scheme not in ("http", "https") or not host:
            raise WebhookRefused(f"webhook_url={url!r}: must be an http:// or https:// URL with a host")
        name = host.lower().rstrip(".")
        if name in self.names:
            return
        try:
            addresses = [ipaddress.ip_address(name)]
        except ValueError:
            try:
                addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in self.resolver(name)]
            except (OSError, UnicodeError, ValueError) as exc:
                raise WebhookRefused(f"webhook_url={url!r}: host {host!r} does not resolve ({exc})") from exc
        if not addresses:
            raise WebhookRefused(f"webhook_url={url!r}: host {host!r} does not resolve")
        for ip in addresses:
            if self._listed(ip):
                continue
            if self.only_listed:
                raise WebhookRefused(f"webhook_url={url!r}: host {host!r} is not in webhook_allow_hosts")
            if _internal(ip):
                raise WebhookRefused(
                    f"webhook_url={url!r}: {host!r} is an internal address ({ip}); internal hosts must be "
                    "listed in the server's webhook_allow_hosts setting")
