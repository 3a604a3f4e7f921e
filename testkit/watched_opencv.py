"""The decoder's OpenCV stream, watched: it counts the frames it grabs and can be made to stop after a few,
as an OpenCV build without the codec stops at the first (0) or one that gives up at damage stops part-way.
That is what the ffmpeg fallback and the refusals are tested against, whatever the installed OpenCV can do."""

import cv2

import video.decoding as decoding


class _WatchedCapture:
    def __init__(self, capture: cv2.VideoCapture, stream: type, stop_after: int | None):
        self._capture, self._stream, self._left = capture, stream, stop_after

    def grab(self) -> bool:
        if self._left is not None:
            self._left -= 1
            if self._left < 0:
                return False
        self._stream.grabbed += 1
        return self._capture.grab()

    def __getattr__(self, name: str):
        return getattr(self._capture, name)


def watched_opencv(stop_after: int | None = None) -> type:
    """A ``video.decoding._Stream`` class whose ``grabbed`` counts the frames grabbed by all its streams."""

    class Watched(decoding._Stream):
        grabbed = 0

        def _open(self, path):
            super()._open(path)
            self.capture = _WatchedCapture(self.capture, type(self), stop_after)

    return Watched
