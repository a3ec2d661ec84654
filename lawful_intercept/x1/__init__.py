"""X1 provisioning (ETSI TS 103 221-1): messages, the network element, the ADMF client."""
