"""swapfw's bundled plugins, registered through the ``swapfw`` entry-point group like any other."""
