"""``python -m peoplenet``: the same as the ``peoplenet`` command."""

from peoplenet.main import main

raise SystemExit(main())
