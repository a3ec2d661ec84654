"""ETSI TS 102 232-1/-3 PS-PDUs: typed model, asn1tools codec, fast readers and CC templates."""
