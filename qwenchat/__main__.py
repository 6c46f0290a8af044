"""`python -m qwenchat`: the console chat (see `qwenchat.console`)."""

from qwenchat.console import main

raise SystemExit(main())
