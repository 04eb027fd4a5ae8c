"""The catalogue of judgment standards (判定标准) and the GB 35181 composite rule."""
