"""dnncost.learn: signature sets and latency cost models that generalize across devices."""
