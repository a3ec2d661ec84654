"""TLS contexts for every interface: TLS 1.2 or later, mutual authentication required.

Both sides verify the peer's certificate chain against the given CA bundle; clients also
check the server's name. There is no option to turn verification off.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import attrs

from lawful_intercept.errors import ConfigurationError

__all__ = ["TLSConfig"]


@attrs.frozen
class TLSConfig:
    """Certificate, key and the CA bundle that peers' certificates must chain to."""

    certificate: Path = attrs.field(converter=Path)
    private_key: Path = attrs.field(converter=Path)
    ca_bundle: Path = attrs.field(converter=Path)

    def _context(self, purpose: ssl.Purpose) -> ssl.SSLContext:
        """ConfigurationError naming the file for a file missing or not of its kind."""
        for role, path in (("certificate", self.certificate), ("key", self.private_key),
                           ("CA bundle", self.ca_bundle)):  # fmt: skip
            if not path.is_file():
                why = "is a directory" if path.is_dir() else "no such file"
                raise ConfigurationError(f"TLS {role} {path}: {why}")
        try:
            context = ssl.create_default_context(purpose, cafile=str(self.ca_bundle))
        except ssl.SSLError as exc:
            raise ConfigurationError(
                f"TLS CA bundle {self.ca_bundle}: {exc.reason or exc}"
            ) from None
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.verify_mode = ssl.CERT_REQUIRED
        try:
            context.load_cert_chain(str(self.certificate), str(self.private_key))
        except (ssl.SSLError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise ConfigurationError(
                f"TLS certificate {self.certificate} with key {self.private_key}: {reason}"
            ) from None
        return context

    def server_context(self) -> ssl.SSLContext:
        """For a listening endpoint: clients must present a certificate from the CA."""
        return self._context(ssl.Purpose.CLIENT_AUTH)

    def client_context(self) -> ssl.SSLContext:
        """For a connecting endpoint: the server's certificate and name are checked."""
        context = self._context(ssl.Purpose.SERVER_AUTH)
        context.check_hostname = True
        return context
