"""The shared kit of work apps: customers, sealed details, escrow, ratings, juries, priced rules.

Rides, deliveries and sales share a shape (a customer asks, a member works, money is held and
released, both sides rate, a dispute goes to a jury drawn by lot).  That shape lives here once,
as pure cores an app composes inside its own fold and node hooks; app authors reach it through
:mod:`peoplenet.plugins.kit`, never by importing this package.
"""
