"""Live video: frames from a camera or stream, analysed on a rolling window, kept as a live timeline."""
