"""ETSI TS 103 221-1 X1 messages and their XML schemas."""
