"""``python -m peoplenet``: the same as the ``peoplenet`` command."""

from peoplenet.runtime.cli.main import main

raise SystemExit(main())
