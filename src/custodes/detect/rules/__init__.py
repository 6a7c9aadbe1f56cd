"""Built-in detections: one module per rule (see custodes.detect.registry)."""
