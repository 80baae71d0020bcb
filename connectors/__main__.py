"""``python -m connectors``: see :mod:`connectors.main`."""

from connectors.main import main

main()
