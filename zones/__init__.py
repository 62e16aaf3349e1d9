"""Shop zones in camera images: model, file formats, validation, membership and geo mapping."""
