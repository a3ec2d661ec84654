"""HI2/HI3 handover: TS 102 232-1/-3 PS-PDUs."""
