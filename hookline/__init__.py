"""Hookline's shared infrastructure: settings, logging, metrics, Kafka and PostgreSQL clients.

The services (``ingress``, ``processors``, ``connectors``) and ``schemas`` sit beside this
package. This package never imports a service; ``launcher`` (the ``hookline`` command,
the supervisor, the demo) is the composition root that starts them.
"""

__version__ = "0.1.0"
