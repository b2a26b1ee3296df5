"""What plugin authors import; no Django."""
