"""The composition root: the ``hookline`` command, the process supervisor of ``hookline
run`` and the demo's traffic. The only package that imports every service; nothing imports
it."""
