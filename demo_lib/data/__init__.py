"""Procedural worlds and real-dataset loaders. `outdoor` renders seeded landscapes at any hour; `timelapse_data`
turns them (or real AMOS / TLVDB folders) into the two training domains of the time-lapse model. `cityscapes` holds
the Cityscapes label table, colour/instance conversions and the loader of vid2vid's real street sequences; `street`
renders seeded procedural street videos in the same label ids (both give vid2vid's training clips). `errors` holds
DatasetLayoutError, shared by every loader. The torch datasets are imported from their modules, not here."""

from .outdoor import OutdoorScene, Weather, scene_seeds, sun_elevation

__all__ = ["OutdoorScene", "Weather", "scene_seeds", "sun_elevation"]
