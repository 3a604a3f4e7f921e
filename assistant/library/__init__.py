"""What is built and loaded: the resource snapshot, the active checkpoint, calibration, and the jobs that build them."""
