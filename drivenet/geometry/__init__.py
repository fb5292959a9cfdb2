"""Shared geometry: road centre lines and poses, the bicycle model, cameras and view synthesis."""
