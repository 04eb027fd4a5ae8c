"""Staff accounts: users, roles, division scope, passwords, TOTP and sessions."""
