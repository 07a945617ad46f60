"""``peoplenet sim deliveries``: a town of stores, couriers and customers on the simulator."""
