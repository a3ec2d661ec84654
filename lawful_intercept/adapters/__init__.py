"""Layer 4, adapters: asyncio transports around the protocol state machines (``aio`` holds the
shared pieces), and the operating system's resources (SQLite queue and stores, AF_PACKET, tc,
network namespaces, TLS contexts)."""
