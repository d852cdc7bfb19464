"""dnncost.bench: measure networks on Android phones over adb, or on this host."""
