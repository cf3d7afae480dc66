"""Test infrastructure for real storage emulators (moto S3, Azurite, fake-gcs-server).

``_servers`` starts and stops each emulator on a free 127.0.0.1 port, ``_proxy`` is a
loopback fault-injection HTTP proxy, and ``conftest`` exposes both as pytest fixtures.
"""
