"""The local storyboard renderer: script (scenes), fonts, cards, encoding, background renders."""
