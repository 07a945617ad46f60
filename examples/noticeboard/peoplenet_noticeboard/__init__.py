"""peoplenet-noticeboard: a cooperative's noticeboard, an example third-party Peoplenet app.

Members post notices (transactions on the cooperative's ordered lace), pin and withdraw their
own, and the board announces the cooperative's closed decisions.  How big the board is and how
long a notice may be are parameters the members set by vote.  See ``docs/plugins.md``.
"""

__version__ = "1.0.0"
