"""Edge worker: sources, sampling, detection, tracking, zone rules, events, evidence, publishing."""
