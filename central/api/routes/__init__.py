"""One module per resource; every module here that defines `router` is mounted by `create_app`."""
