"""valgus-cam: dynamic knee valgus (FPPA), pelvic drop and trunk lean from a camera."""

__version__ = "0.1.0"
