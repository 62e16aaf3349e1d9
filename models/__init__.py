"""Detector back-ends, the shared Detections type, and the model registry."""
