"""Hookline's shared infrastructure: settings, logging, metrics, Kafka and PostgreSQL clients.

The services (``ingress``, ``processors``, ``connectors``) and ``schemas`` sit beside this
package. This package never imports a service, except ``hookline.cli``, the composition
root that starts them.
"""

__version__ = "0.1.0"
