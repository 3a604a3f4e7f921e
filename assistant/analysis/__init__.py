"""From a video to ``Evidence``: decode once, classify, retrieve, fuse, time the steps, pick KB passages."""
