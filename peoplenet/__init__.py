"""Peoplenet: platform cooperatives that run on their members' phones.

The one import package. Its sub-packages are the repository's top-level folders, linked here
(``peoplenet/runtime`` is ``runtime/``, and so on), so a checkout reads like the architecture
and an install puts one name, ``peoplenet``, into the user's environment:

* :mod:`peoplenet.runtime` -- the phone runtime: wire, keys, lace, net, social, consensus,
  kernel, simulators, the node's local files, the command line's framework;
* :mod:`peoplenet.actors` -- the actors of a member's node and their pure cores: member,
  community, cooperative, governance;
* :mod:`peoplenet.plugins` -- the app platform: the public API apps are written against, the
  host, the keyless worker;
* :mod:`peoplenet.apps` -- the bundled apps (each independent of the others);
* :mod:`peoplenet.bench` -- the benchmarks behind ``peoplenet bench``.

Each layer imports only those below it; :mod:`peoplenet.main`, outside every layer, composes
them (the ``peoplenet`` command).  See docs/architecture.md.
"""
