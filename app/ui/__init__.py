"""The PySide6 console (the only package that imports Qt)."""
