"""Layer 1, codecs: bytes in, typed values out, and back. No I/O, no keys, no clocks.

X2/X3 (ETSI TS 103 221-2), HI2/HI3 PS-PDUs (ETSI TS 102 232-1/-3), X1 messages (ETSI TS 103
221-1), the BER cursor, IP/transport headers and pcap files. Internal: the public names are in
``lawful_intercept.x2x3``, ``lawful_intercept.handover`` and ``lawful_intercept.x1``.
"""
