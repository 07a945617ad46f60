"""Consensus: Cordial Miners on community laces, in constitutional epochs.

* :mod:`.constitution` -- constitutions, epoch geneses (the epoch's lace id), amendments.
* :mod:`.rules` -- what an epoch block must satisfy before it is stored.
* :mod:`.ordering` -- approve / ratify / final leaders and the order τ, incrementally.
* :mod:`.core` -- one member's sans-IO consensus: quiescent cordial block production,
  leader timeouts, dissemination, epochs.
* :mod:`.simulation` -- many members in one process on the deterministic simulator.
"""
