"""Detector back-ends: one module per runtime, each defining a `models.base.Detector` subclass.
`models.registry` imports every module here; heavy runtimes are imported lazily inside `from_file`."""
