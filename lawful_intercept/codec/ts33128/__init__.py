"""3GPP TS 33.128 (5G lawful interception) payloads: the TS33128Payloads module's BER and
JSON forms (:mod:`.payloads`) and the typed AMF and SMF events (:mod:`.events`)."""
