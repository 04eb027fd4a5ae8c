"""Channel-agnostic tip intake: the web form, the JSON API and WeChat."""
