"""The WeChat Official Account channel of intake."""
