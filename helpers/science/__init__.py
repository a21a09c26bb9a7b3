"""Floor 3 of ``helpers``: the scientific applications of the book.

* ``helpers.science.molecules``: SELFIES tokens, a convolutional sequence VAE and the MOSES
  metrics (chapter "Molecular design"); needs the ``[science]`` extra (RDKit, SELFIES).
* ``helpers.science.collider``: a simulation of the LHC Olympics 2020 dijet benchmark and the
  anomaly-detection figures of merit (chapter "Anomaly detection").

Importing this package imports neither submodule, so RDKit is only needed by the chapter that
uses it.
"""
