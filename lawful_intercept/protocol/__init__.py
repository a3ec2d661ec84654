"""Layer 3, sans-IO protocol state machines: they take bytes and time and return bytes and
events (X2/X3 sessions, HI delivery sessions, mediation, the LEMF's receiving core, the POI's
frames-to-PDUs pipeline). No sockets, no files, no clocks read here."""
