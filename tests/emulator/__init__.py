"""An emulated Android device for tests: a device-side ADB daemon the real adb server accepts.

`adbd.EmulatedAdbd` serves the ADB transport protocol (CNXN without AUTH, OPEN/OKAY/WRTE/CLSE)
on a TCP port; `shell` runs commands with /bin/sh inside a sandbox that stands for the device's
filesystem; `sync` serves push/pull; `fixtures` gives pytest fixtures `adb_server` and
`emulated_device`.
"""
