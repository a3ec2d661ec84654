"""ETSI TS 103 221-2 X2/X3 PDUs: attributes, encoder, decoder, stream reader, X3 template."""
