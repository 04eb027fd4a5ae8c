"""WTForms forms of the public site, one module per subject."""
