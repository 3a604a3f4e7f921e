"""What builds or edits: setup, calibration, the bundle writer, example clips, the KB editor, source roots."""
