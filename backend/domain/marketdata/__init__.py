"""Market data providers (mock, CSV) behind one Provider protocol; pure stdlib + numpy."""
