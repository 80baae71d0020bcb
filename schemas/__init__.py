"""Record schemas for every Hookline topic. Imports nothing else of Hookline's."""
