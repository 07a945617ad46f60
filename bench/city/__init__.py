"""``peoplenet sim rides``: a city of drivers and riders on the deterministic simulator."""
