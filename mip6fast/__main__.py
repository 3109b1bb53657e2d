"""``python -m mip6fast``: the same as the ``mip6fast`` command."""
from .cli import main

raise SystemExit(main())
