"""The acquisition worker (QtCore), the sample pipeline, ring buffer, recording and replay."""
