"""Code the chapters of *Generative Models for Science* call by name.

Importing this package has no side effects: nothing is seeded, downloaded or
restyled until a chapter asks for it (``set_seed``, ``plot.use_book_style``).
"""

from helpers._runtime import generator, get_device, machine_fingerprint, numpy_rng, seed_for, set_seed

__all__ = ["generator", "get_device", "machine_fingerprint", "numpy_rng", "seed_for", "set_seed"]
__version__ = "0.2.0"
