"""The job layer: durable job records, queue order, admission, dispatch to an engine, events."""
