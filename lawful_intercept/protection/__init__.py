"""Layer 2, protection: EncryptionContainer and IntegrityCheck (ETSI TS 102 232-1 clauses 7.2
and 7.3 / annex G), sealing of stored rows, and key custody (``protection.keys``).

May import the codecs; nothing here opens a socket or reads a clock on its own.
"""
