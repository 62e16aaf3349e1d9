"""The HTTP API: dependencies in `deps`, one router per resource in `routes/` (each module defining
`router` is included by `central.app.create_app`)."""
