"""What answering loads: the resource snapshot, the bundle, the active checkpoint, calibration, the open-set rule."""
