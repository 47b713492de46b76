"""Geometry: cells, faces, volumes and boundary specifications."""

from .cartesian import BOUNDARIES, CartesianGrid

__all__ = ["CartesianGrid", "BOUNDARIES"]
