"""Recordings of activities that share a place: the "sports hall" case of real footage.

Each activity is a small player (a body and a head) doing one thing in one kind of place. Two of
them are filmed in the same hall (a wall with a crowd, a wooden floor with court lines):
*Dribble* (a player crossing the court, bouncing a ball) and *Volley* (a player standing under a
net, a ball flying up and down above them). In a frame the hall fills most of the picture and the
player little of it, so frame features see "a sports hall" in both; what differs is what moves.
*Swim* (a pool) and *Golf* (a lawn) are filmed elsewhere. A recording "filmed elsewhere" is
tinted, cropped and compressed. Frames are BGR, as OpenCV writes them.
"""

import cv2
import numpy as np

SIZE = 96
FRAMES = 24
PLACE_OF = {"Dribble": "hall", "Volley": "hall", "Swim": "pool", "Golf": "lawn"}


def _place(kind: str, rng: np.random.Generator) -> np.ndarray:
    image = np.zeros((SIZE, SIZE, 3), np.float32)
    wall = SIZE // 3
    if kind == "hall":
        image[:wall] = (70, 70, 80)
        for x, y in rng.integers(0, SIZE, (60, 2)):  # the crowd
            cv2.circle(image, (int(x), int(y) % wall), 1, (200, 180, 160), -1)
        image[wall:] = (60, 120, 190)  # wooden floor
        cv2.line(image, (0, wall + 6), (SIZE, wall + 6), (250, 250, 250), 1)
        cv2.ellipse(image, (SIZE // 2, SIZE - 10), (30, 12), 0, 180, 360, (250, 250, 250), 1)
    elif kind == "pool":
        image[:] = (200, 140, 40)
        for y in range(10, SIZE, 18):  # lane ropes
            cv2.line(image, (0, y), (SIZE, y), (230, 220, 200), 1)
    else:
        image[:wall] = (235, 200, 150)  # sky
        image[wall:] = (60, 160, 60)  # grass
    return image + rng.normal(0, 6, image.shape)


def _player(frame: np.ndarray, x: float, y: float, colour: tuple[int, int, int]) -> None:
    cv2.rectangle(frame, (int(x - 4), int(y - 14)), (int(x + 4), int(y + 10)), colour, -1)
    cv2.circle(frame, (int(x), int(y - 19)), 5, (150, 180, 220), -1)


def _filmed_elsewhere(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Another camera: a colour cast, a tighter crop, JPEG at quality 40."""
    tint = rng.integers(-20, 21, 3)
    out = []
    for frame in frames:
        frame = np.clip(frame.astype(np.int16) + tint, 0, 255).astype(np.uint8)
        frame = cv2.resize(frame[6:90, 4:92], (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        out.append(cv2.imdecode(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 40])[1], cv2.IMREAD_COLOR))
    return np.stack(out)


def recording(label: str, rng: np.random.Generator, elsewhere: bool = False) -> np.ndarray:
    """(FRAMES, SIZE, SIZE, 3) uint8 BGR frames of one recording of ``label``."""
    background = _place(PLACE_OF[label], rng)
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    x0, y0 = rng.uniform(0.3, 0.5) * SIZE, rng.uniform(0.6, 0.7) * SIZE
    frames = []
    for t in np.linspace(0, 1, FRAMES):
        frame = background.copy()
        if label == "Dribble":
            x = x0 + 0.3 * SIZE * t
            _player(frame, x, y0, colour)
            ball_y = y0 + 2 + 10 * abs(np.sin(4 * np.pi * t))
            cv2.circle(frame, (int(x + 9), int(ball_y)), 4, (30, 110, 230), -1)
        elif label == "Volley":
            _player(frame, x0, y0, colour)
            cv2.line(frame, (0, int(y0 - 30)), (SIZE, int(y0 - 30)), (240, 240, 240), 2)  # the net
            ball_y = y0 - 30 - 20 * abs(np.sin(2 * np.pi * t))
            cv2.circle(frame, (int(x0 + 3), int(ball_y)), 4, (200, 230, 240), -1)
        elif label == "Swim":
            x, arm = 10 + 0.7 * SIZE * t, np.sin(6 * np.pi * t)
            cv2.rectangle(frame, (int(x - 12), int(y0 - 3)), (int(x + 12), int(y0 + 3)), colour, -1)
            cv2.line(frame, (int(x), int(y0)), (int(x + 10 * arm), int(y0 - 8)), colour, 2)
        else:  # Golf: a club swung through a half circle
            _player(frame, x0, y0, colour)
            angle = np.pi * (0.2 + 1.4 * t)
            tip = (int(x0 + 18 * np.cos(angle)), int(y0 - 6 + 18 * np.sin(angle)))
            cv2.line(frame, (int(x0), int(y0 - 6)), tip, (200, 200, 200), 2)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    frames = np.stack(frames)
    return _filmed_elsewhere(frames, rng) if elsewhere else frames
