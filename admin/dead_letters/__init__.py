"""Dead letters: indexed from Kafka into PostgreSQL, listed, read, replayed, discarded."""
