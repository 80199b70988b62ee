"""Local learning rules that ride on surrogate-gradient training (DA-SSDP)."""
