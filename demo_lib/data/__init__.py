"""Procedural worlds and real-dataset loaders. `outdoor` renders seeded landscapes at any hour; `timelapse_data`
turns them (or real AMOS / TLVDB folders) into the two training domains of the time-lapse model."""

from .outdoor import OutdoorScene, Weather, scene_seeds, sun_elevation

__all__ = ["OutdoorScene", "Weather", "scene_seeds", "sun_elevation"]
