"""Video Synthesis Lab: four video-synthesis GANs to run, train and take apart.

    from demo_lib import registry
    model = registry.load("timelapse")
    frames = model.generate(image, times=[0.0, 6.0, 12.0, 18.0], seed=0)   # uint8 (T, H, W, 3)
"""

__version__ = "0.1.0"
