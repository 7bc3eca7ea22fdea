"""Command-line front ends. Library modules never parse flags, print or touch files; these do."""
