"""dnncost.gen: sample efficient CNNs from search spaces and write them as TFLite models."""
