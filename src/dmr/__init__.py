"""dmr-cardiac: Distance Map Regularized CNNs for cardiac cine MR segmentation."""

__version__ = "0.1.0"
