"""Output formats: pure functions from a resolved Topology to text. No I/O, sorted output."""
