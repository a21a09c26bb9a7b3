"""Numbers that scripts under ``tools/`` measured and chapters load (no side effects on import).

Each result is a generated Python module, so it ships inside the ``helpers`` wheel without any
package-data configuration: ``comparison_seeds`` (``tools/comparison_seeds.py``, the comparison
chapter).
"""
