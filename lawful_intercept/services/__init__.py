"""Layer 5, services: the POI, the MF, the LEMF and the ADMF client composed from the layers
below, and their X1 network-element hooks."""
